//! Payments in ticketd while no payment provider is configured.

use async_trait::async_trait;
use ticket_core::{
    CheckoutRequest, CheckoutSession, OrderId, Payments, PaymentsError, Refund, RefundRequest,
};

/// Refuses every call, naming why: a registration that needs a refund stops at RefundPayment,
/// visible in `ticketd executions`, and can be redriven once a provider is configured. Free
/// events never call it.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnconfiguredPayments;

const NOT_CONFIGURED: &str = "no payment provider is configured";

#[async_trait]
impl Payments for UnconfiguredPayments {
    async fn create_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentsError> {
        Err(PaymentsError::Rejected(NOT_CONFIGURED.into()))
    }

    async fn expire_checkout(&self, _session: &OrderId) -> Result<(), PaymentsError> {
        Err(PaymentsError::Rejected(NOT_CONFIGURED.into()))
    }

    async fn refund(&self, _request: &RefundRequest) -> Result<Refund, PaymentsError> {
        Err(PaymentsError::Rejected(NOT_CONFIGURED.into()))
    }
}
