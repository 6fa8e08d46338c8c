//! Serving one API route: API Gateway's payload 2.0 event in, the route's handler in core, the
//! response back. Each route Lambda gets only the configuration its route needs (the CDK app's
//! list); a port it was not given is [`NotGiven`], which fails loudly if a handler ever uses it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use ticket_cloud::StepFunctionsWorkflow;
use ticket_core::api::{self, ApiError, ApiPorts, ApiResponse, Handler};
use ticket_core::registration::RegistrationRequest;
use ticket_core::{
    CheckoutRequest, CheckoutSession, FileKey, FilesError, OrderId, Payments, PaymentsError,
    RandomIds, Refund, RefundRequest, Started, SystemClock, TicketFiles, TicketVerifier, Workflow,
    WorkflowError, apigw, stripe_webhook,
};

use crate::{
    ConfigError, SIGNING_KEY_ARN_VAR, SIGNING_KEY_VAR, STRIPE_SECRET_KEY_ARN_VAR,
    STRIPE_SECRET_KEY_VAR, STRIPE_WEBHOOK_SECRET_ARN_VAR, STRIPE_WEBHOOK_SECRET_VAR, files_from,
    optional_env, payments_from, secret_from_env, secret_given, signer_from, store_from,
};

/// Names the environment variable with the registration state machine's ARN.
pub const STATE_MACHINE_ARN_VAR: &str = "STATE_MACHINE_ARN";
/// Names the environment variable with the hosted site's origin (Stripe's return URLs).
pub const SITE_URL_VAR: &str = "SITE_URL";
/// Names the optional environment variable with the ticket codes' public keys
/// (`KEYID:<base64url>`, comma-separated): what a scan needs, without the signing key.
pub const PUBLIC_KEYS_VAR: &str = "TICKET_PUBLIC_KEYS";

/// The binary name of a route: its operation id in kebab case (`listMyTickets` →
/// `list-my-tickets`).
pub fn binary_name(operation_id: &str) -> String {
    let mut name = String::new();
    for character in operation_id.chars() {
        if character.is_ascii_uppercase() {
            name.push('-');
        }
        name.push(character.to_ascii_lowercase());
    }
    name
}

/// Whether `binary` is the binary name of the route `handler` runs ([`binary_name`] of its
/// operation id). A `const fn`, so [`route_main!`](crate::route_main) checks it at build time.
pub const fn serves(binary: &str, handler: Handler) -> bool {
    let mut i = 0;
    while i < api::ROUTES.len() {
        let route = &api::ROUTES[i];
        if route.handler as u8 == handler as u8 {
            return is_kebab_case_of(binary.as_bytes(), route.operation_id.as_bytes());
        }
        i += 1;
    }
    false
}

const fn is_kebab_case_of(kebab: &[u8], camel: &[u8]) -> bool {
    let (mut k, mut c) = (0, 0);
    while c < camel.len() {
        let character = camel[c];
        if character.is_ascii_uppercase() {
            if k >= kebab.len() || kebab[k] != b'-' {
                return false;
            }
            k += 1;
        }
        if k >= kebab.len() || kebab[k] != character.to_ascii_lowercase() {
            return false;
        }
        k += 1;
        c += 1;
    }
    k == kebab.len()
}

/// The `main` of a route Lambda: serves the route of `Handler::$handler`. A binary whose file
/// name is not that route's binary name does not build, so the binary the CDK app deploys for a
/// route is the one that serves it.
#[macro_export]
macro_rules! route_main {
    ($handler:ident) => {
        const _: () = assert!(
            $crate::serves(env!("CARGO_BIN_NAME"), $crate::Handler::$handler),
            "this binary's name is not the kebab-case operationId of the route it serves"
        );

        #[tokio::main]
        async fn main() -> Result<(), lambda_runtime::Error> {
            $crate::run_route($crate::Handler::$handler).await
        }
    };
}

/// Serves the route that runs `handler`; events for any other route are answered 404 (API
/// Gateway sends none: one route, one function).
pub async fn run_route(handler: Handler) -> Result<(), lambda_runtime::Error> {
    crate::init_logging();
    let config = crate::aws_config().await;
    let ports = &ports_from(&config).await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<ApiGatewayV2httpResponse, lambda_runtime::Error>(apigw::apigw_response(
                serve(ports, handler, event.payload).await,
            ))
        },
    ))
    .await
}

async fn serve(ports: &ApiPorts, handler: Handler, event: ApiGatewayV2httpRequest) -> ApiResponse {
    let request = match apigw::api_request(event) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    match api::find_route(&request.method, &request.route) {
        Some(route) if route.handler == handler => api::handle(ports, request).await,
        _ => ApiError::not_found("route").into(),
    }
}

/// The ports from the environment: the table always; the bucket, Stripe, the state machine and
/// the ticket keys where the function was given them.
async fn ports_from(config: &SdkConfig) -> Result<ApiPorts, ConfigError> {
    let files: Arc<dyn TicketFiles> = match optional_env(crate::BUCKET_NAME_VAR) {
        Some(_) => Arc::new(files_from(config)?),
        None => Arc::new(NotGiven("the ticket bucket")),
    };
    let payments: Arc<dyn Payments> =
        if secret_given(STRIPE_SECRET_KEY_VAR, STRIPE_SECRET_KEY_ARN_VAR) {
            Arc::new(payments_from(config).await?)
        } else {
            Arc::new(NotGiven("Stripe"))
        };
    let workflow: Arc<dyn Workflow> = match optional_env(STATE_MACHINE_ARN_VAR) {
        Some(arn) => Arc::new(StepFunctionsWorkflow::new(
            aws_sdk_sfn::Client::new(config),
            arn,
        )),
        None => Arc::new(NotGiven("the registration state machine")),
    };
    // Without secrets every delivery fails verification: a webhook function must be given them.
    let webhook_secrets = if secret_given(STRIPE_WEBHOOK_SECRET_VAR, STRIPE_WEBHOOK_SECRET_ARN_VAR)
    {
        let text = secret_from_env(
            config,
            STRIPE_WEBHOOK_SECRET_VAR,
            STRIPE_WEBHOOK_SECRET_ARN_VAR,
        )
        .await?;
        stripe_webhook::secrets_from(&text)
    } else {
        Vec::new()
    };
    Ok(ApiPorts {
        store: Arc::new(store_from(config)?),
        files,
        payments,
        workflow,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        verifier: Arc::new(verifier_from(config).await?),
        webhook_secrets,
        site_url: optional_env(SITE_URL_VAR).unwrap_or_default(),
        hold_minutes: api::HOLD_MINUTES,
    })
}

/// The public keys of `TICKET_PUBLIC_KEYS`, or the signing key's own where the function has
/// it, or none (every code is then refused as signed by an unknown key).
async fn verifier_from(config: &SdkConfig) -> Result<TicketVerifier, ConfigError> {
    if let Some(text) = optional_env(PUBLIC_KEYS_VAR) {
        return TicketVerifier::from_public_keys(text.split(',').map(str::trim))
            .map_err(|error| ConfigError::Invalid(PUBLIC_KEYS_VAR, error.to_string()));
    }
    if secret_given(SIGNING_KEY_VAR, SIGNING_KEY_ARN_VAR) {
        return Ok(signer_from(config).await?.verifier());
    }
    TicketVerifier::from_public_keys::<[&str; 0]>([])
        .map_err(|error| ConfigError::Invalid(PUBLIC_KEYS_VAR, error.to_string()))
}

/// A port this function was not configured with. Using it is a deployment mistake (the CDK
/// list and the handler disagree), reported as an internal error.
struct NotGiven(&'static str);

impl NotGiven {
    fn reason(&self) -> String {
        let reason = format!("this function was not given {}", self.0);
        tracing::error!(%reason, "a route used a port it was not configured with");
        reason
    }
}

#[async_trait]
impl TicketFiles for NotGiven {
    async fn put_pdf(&self, _key: &FileKey, _pdf: Vec<u8>) -> Result<(), FilesError> {
        Err(FilesError::Internal(self.reason()))
    }
    async fn download_url(
        &self,
        _key: &FileKey,
        _name: &str,
        _expires_in: Duration,
    ) -> Result<String, FilesError> {
        Err(FilesError::Internal(self.reason()))
    }
    async fn delete(&self, _key: &FileKey) -> Result<(), FilesError> {
        Err(FilesError::Internal(self.reason()))
    }
    async fn exists(&self, _key: &FileKey) -> Result<bool, FilesError> {
        Err(FilesError::Internal(self.reason()))
    }
}

#[async_trait]
impl Payments for NotGiven {
    async fn create_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentsError> {
        Err(PaymentsError::Internal(self.reason()))
    }
    async fn expire_checkout(&self, _session: &OrderId) -> Result<(), PaymentsError> {
        Err(PaymentsError::Internal(self.reason()))
    }
    async fn get_checkout(
        &self,
        _session: &OrderId,
    ) -> Result<Option<ticket_core::SessionSnapshot>, PaymentsError> {
        Err(PaymentsError::Internal(self.reason()))
    }
    async fn refund(&self, _request: &RefundRequest) -> Result<Refund, PaymentsError> {
        Err(PaymentsError::Internal(self.reason()))
    }
}

#[async_trait]
impl Workflow for NotGiven {
    async fn start_registration(
        &self,
        _request: &RegistrationRequest,
    ) -> Result<Started, WorkflowError> {
        Err(WorkflowError::Internal(self.reason()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_binary() {
        // What each binary serves is checked when it builds (`route_main!`).
        let bin_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin");
        for route in api::ROUTES {
            let path = format!("{bin_dir}/{}.rs", binary_name(route.operation_id));
            assert!(
                std::path::Path::new(&path).is_file(),
                "{} {} needs {path}",
                route.method,
                route.path
            );
            assert!(serves(&binary_name(route.operation_id), route.handler));
        }
    }

    #[test]
    fn a_binary_serves_only_the_route_its_name_is_of() {
        assert!(serves("list-my-tickets", Handler::MyTickets));
        assert!(!serves("list-my-ticket", Handler::MyTickets));
        assert!(!serves("list-my-tickets-", Handler::MyTickets));
        assert!(!serves("listmytickets", Handler::MyTickets));
        assert!(!serves("checkout", Handler::MyTickets));
        assert!(serves("checkout", Handler::Checkout));
    }

    #[test]
    fn binary_names_are_the_operation_ids_in_kebab_case() {
        assert_eq!(binary_name("listMyTickets"), "list-my-tickets");
        assert_eq!(binary_name("checkout"), "checkout");
    }
}
