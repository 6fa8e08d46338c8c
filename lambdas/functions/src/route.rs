//! Serving one API route: API Gateway's payload 2.0 event in, the route's handler in core, the
//! response back. Each route Lambda gets only the configuration its route needs (the CDK app's
//! list); a port it was not given is [`NotGiven`], which fails loudly if a handler ever uses it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use ticket_core::api::{self, ApiError, ApiPorts, ApiResponse, Handler, TicketPdfs};
use ticket_core::registration::RegistrationRequest;
use ticket_core::{
    CheckoutRequest, CheckoutSession, FileKey, FilesError, OrderId, Payments, PaymentsError,
    RandomIds, Refund, RefundRequest, Started, SystemClock, TicketFiles, Workflow, WorkflowError,
    apigw,
};

use crate::{ConfigError, LambdaConfig};

/// Whether `binary` is the binary name of the route `handler` runs
/// ([`Route::binary_name`](api::Route::binary_name)). A `const fn`, so [`route_main!`](crate::route_main) checks it at build time.
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
    let (config, aws) = crate::cold_start().await;
    let ports = &ports_from(&config, &aws).await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<ApiGatewayV2httpResponse, lambda_runtime::Error>(
                answer(ports, handler, event.payload).await,
            )
        },
    ))
    .await
}

/// What the route Lambda of `handler` answers to one API Gateway event, on `ports`.
pub async fn answer(
    ports: &ApiPorts,
    handler: Handler,
    event: ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    apigw::apigw_response(serve(ports, handler, event).await)
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
async fn ports_from(config: &LambdaConfig, aws: &SdkConfig) -> Result<ApiPorts, ConfigError> {
    let files: Arc<dyn TicketFiles> = match config.bucket_name {
        Some(_) => Arc::new(config.files(aws)?),
        None => Arc::new(NotGiven("the ticket bucket")),
    };
    let payments: Arc<dyn Payments> = match config.stripe_secret_key {
        Some(_) => Arc::new(config.payments(aws).await?),
        None => Arc::new(NotGiven("Stripe")),
    };
    let workflow: Arc<dyn Workflow> = match (
        &config.state_machine_arn,
        &config.cancellation_state_machine_arn,
    ) {
        (None, None) => Arc::new(NotGiven("a state machine")),
        _ => Arc::new(config.workflow(aws)?),
    };
    // The signing key where the function has it: it draws tickets again (a renamed holder).
    let ticket_pdfs = match config.signing_key {
        Some(_) => Some(TicketPdfs {
            renderer: Arc::new(crate::renderer()),
            signer: Arc::new(config.signer(aws).await?),
        }),
        None => None,
    };
    Ok(ApiPorts {
        store: Arc::new(config.store(aws)?),
        files,
        payments,
        workflow,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        verifier: Arc::new(config.verifier(aws).await?),
        ticket_pdfs,
        webhook_secrets: config.webhook_secrets(aws).await?,
        site_url: config.site_url.clone().unwrap_or_default(),
        hold_minutes: api::HOLD_MINUTES,
    })
}

/// A port this function was not configured with. Using it is a deployment mistake (the CDK
/// list and the handler disagree), reported as an internal error.
pub(crate) struct NotGiven(pub(crate) &'static str);

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
    async fn start_cancellation(
        &self,
        _event_id: ticket_core::EventId,
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
            let path = format!("{bin_dir}/{}.rs", route.binary_name());
            assert!(
                std::path::Path::new(&path).is_file(),
                "{} {} needs {path}",
                route.method,
                route.path
            );
            assert!(serves(&route.binary_name(), route.handler));
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
        let name = |handler| {
            let route = api::ROUTES.iter().find(|route| route.handler == handler);
            route.unwrap().binary_name()
        };
        assert_eq!(name(Handler::MyTickets), "list-my-tickets");
        assert_eq!(name(Handler::Checkout), "checkout");
    }
}
