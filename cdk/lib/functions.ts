/**
 * Every Rust Lambda of the platform, in one list. A binary is `lambdas/functions/src/bin/<binary>.rs`;
 * `scripts/build-lambdas` builds it to `<lambdaDir>/<binary>/bootstrap`. Adding a Lambda is one
 * entry here: the entry says what the function touches, and the CDK app turns that into its
 * environment and its IAM grants (see `lib/lambdas.ts`), so the two cannot drift apart.
 *
 * What an entry asks for, and what the function then gets:
 *
 * | need                        | environment                        | grant                                   |
 * |-----------------------------|------------------------------------|-----------------------------------------|
 * | table: 'read'               | TABLE_NAME                         | GetItem, Query (table and each GSI)     |
 * | table: 'readWrite'          | TABLE_NAME                         | + PutItem, UpdateItem, DeleteItem,      |
 * |                             |                                    |   ConditionCheckItem (transactions)     |
 * | table: { items, indexes }   | TABLE_NAME                         | exactly `items` on the table, Query on  |
 * |                             |                                    |   the named indexes only                |
 * | ticketFiles: [...]          | BUCKET_NAME                        | on `tickets/*` of the ticket bucket:    |
 * |   'read'                    |                                    |   GetObject (presigned download links)  |
 * |   'check'                   |                                    |   GetObject + ListBucket (HeadObject    |
 * |                             |                                    |   answers 404, not 403, for a miss)     |
 * |   'write' / 'delete'        |                                    |   PutObject / DeleteObject              |
 * | secrets: [...]              | <VAR>_SECRET_ARN (see SECRET_ENV)  | GetSecretValue on that secret only      |
 * | startsRegistration          | STATE_MACHINE_ARN                  | StartExecution on the state machine,    |
 * |                             |                                    | DescribeExecution on its executions     |
 * | startsCancellation          | CANCELLATION_STATE_MACHINE_ARN     | the same, on the cancellation machine   |
 * | siteUrl                     | SITE_URL                           | -                                       |
 * | schedule: { rateMinutes }   | -                                  | - (an EventBridge rule invokes it)      |
 * | trigger: 'postConfirmation' | -                                  | AdminAddUserToGroup on the user pool    |
 *
 * Every function also gets its own log group (JSON log format; `AWS_LAMBDA_LOG_FORMAT=JSON` and
 * `AWS_LAMBDA_LOG_LEVEL` are set by Lambda) and may write only there.
 */

export type DynamoAction = 'GetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem';

/** A narrower grant than 'read'/'readWrite': these actions on the table, Query on these indexes. */
export interface TableGrant {
  /** Actions on the table itself (TransactWriteItems is authorised per item through them). */
  readonly items: readonly DynamoAction[];
  /** Indexes of cdk/table-schema.json the function queries. */
  readonly indexes: readonly string[];
}

export type TableAccess = 'read' | 'readWrite' | TableGrant;
export type FileAccess = 'read' | 'check' | 'write' | 'delete';
export type SecretName = 'stripeSecretKey' | 'stripeWebhookSecret' | 'ticketSigningKey';
export type HttpMethodName = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Route {
  readonly method: HttpMethodName;
  /** API Gateway route path, e.g. `/events/{id}`. */
  readonly path: string;
  /** `jwt`: the Cognito JWT authorizer runs first. `none`: only for callers that cannot hold a token. */
  readonly auth: 'jwt' | 'none';
}

export interface LambdaSpec {
  /** Name of the binary and of its directory under the lambda dir. */
  readonly binary: string;
  /** One line; becomes the function's description. */
  readonly purpose: string;
  /** Memory in MB (CPU scales with it). Default 256. */
  readonly memoryMb?: number;
  /**
   * Default: 25 s for saga steps (under the state's 30 s: the function's own timeout fires first
   * and is retried as Sandbox.Timedout), 10 s for routes, 5 s for Cognito triggers. A function
   * given the Stripe key needs at least STRIPE_CALLS_PER_INVOCATION Stripe requests' worth.
   */
  readonly timeoutSeconds?: number;
  /** Reserved concurrency: at most this many instances at once. */
  readonly reservedConcurrency?: number;
  /** Invoked by an EventBridge rule at this rate (no retries: the next tick is the retry). */
  readonly schedule?: { readonly rateMinutes: number };
  readonly table?: TableAccess;
  readonly ticketFiles?: readonly FileAccess[];
  readonly secrets?: readonly SecretName[];
  /** Starts (or finds) a registration execution of the state machine. */
  readonly startsRegistration?: boolean;
  /** Starts (or finds) the cancellation execution of an event. */
  readonly startsCancellation?: boolean;
  /** Needs the site's URL (Stripe success and cancel URLs). */
  readonly siteUrl?: boolean;
  /** A state of `statemachines/registration.asl.json`, bound through `${<step>FunctionArn}`. */
  readonly step?: string;
  /** A state of `statemachines/cancellation.asl.json`, bound the same way. */
  readonly cancellationStep?: string;
  /** HTTP API routes served by this function. */
  readonly routes?: readonly Route[];
  /** A Cognito trigger of the user pool. */
  readonly trigger?: 'postConfirmation';
}

/** Environment variable names; the Rust side reads exactly these. */
export const ENV = {
  table: 'TABLE_NAME',
  ticketFiles: 'BUCKET_NAME',
  stateMachine: 'STATE_MACHINE_ARN',
  cancellationStateMachine: 'CANCELLATION_STATE_MACHINE_ARN',
  siteUrl: 'SITE_URL',
} as const;

/**
 * A secret's ARN is passed as `<VAR>_SECRET_ARN`, where `<VAR>` is the variable that holds the
 * plain value where there is no Secrets Manager (ticketd, tests): the function reads `<VAR>` if it
 * is set and otherwise fetches `<VAR>_SECRET_ARN` once per cold start.
 */
export const SECRET_ENV: Record<SecretName, string> = {
  stripeSecretKey: 'STRIPE_SECRET_KEY_SECRET_ARN',
  stripeWebhookSecret: 'STRIPE_WEBHOOK_SECRET_SECRET_ARN',
  ticketSigningKey: 'TICKET_SIGNING_KEY_SECRET_ARN',
};

/**
 * The Stripe client's per-request timeout, in seconds: `DEFAULT_TIMEOUT` of
 * lambdas/cloud/src/stripe.rs (a test checks the two agree).
 */
export const STRIPE_REQUEST_TIMEOUT_SECONDS = 6;

/**
 * Stripe requests one invocation may have to wait for, each up to the timeout above: checkout
 * creates a coupon (with a promo code) and a session and, if the store then fails, expires the
 * session and reads its status; a refund is
 * created and, once refunded, listed; a 401 re-reads the key and sends the request once more.
 * A function given the Stripe key must outlast that many (a test checks).
 */
export const STRIPE_CALLS_PER_INVOCATION = 4;

/** API Gateway HTTP API's integration timeout: a route function must answer within it. */
export const API_INTEGRATION_TIMEOUT_SECONDS = 30;

export const LAMBDAS: readonly LambdaSpec[] = [
  // ---- Registration saga: one function per state of statemachines/registration.asl.json.
  {
    binary: 'confirm-seat',
    purpose: 'Saga step: open the order and sell the held seat (or a free one for a late payment).',
    step: 'ConfirmSeat',
    table: 'readWrite',
  },
  {
    binary: 'record-ticket',
    purpose: "Saga step: record the order's registration and ticket.",
    step: 'RecordTicket',
    table: 'readWrite',
  },
  {
    binary: 'render-ticket',
    purpose: 'Saga step: render the PDF ticket with its signed QR code and store it.',
    step: 'RenderTicket',
    memoryMb: 512,
    table: 'read',
    ticketFiles: ['write'],
    secrets: ['ticketSigningKey'],
  },
  {
    binary: 'deliver-ticket',
    purpose: 'Saga step: check the ticket file is stored and mark the order FULFILLED.',
    step: 'DeliverTicket',
    table: 'readWrite',
    ticketFiles: ['check'],
  },
  {
    binary: 'remove-ticket-file',
    purpose: "Compensation: delete the order's ticket PDF if it was stored.",
    step: 'RemoveTicketFile',
    table: 'read',
    ticketFiles: ['check', 'delete'],
  },
  {
    binary: 'void-ticket',
    purpose: "Compensation: void the order's ticket if one was recorded.",
    step: 'VoidTicket',
    table: 'readWrite',
  },
  {
    binary: 'release-seat',
    purpose: 'Compensation: give the seat back, sold or held.',
    step: 'ReleaseSeat',
    table: 'readWrite',
  },
  {
    binary: 'refund-payment',
    purpose: 'Compensation: refund the payment once per order.',
    step: 'RefundPayment',
    // Stripe only: the binary builds no store and no file adapter.
    secrets: ['stripeSecretKey'],
  },
  {
    binary: 'fail-order',
    purpose: 'Compensation: mark the order FAILED (or REFUNDED) with a reason the buyer can read.',
    step: 'FailOrder',
    table: 'readWrite',
  },

  // ---- Cognito trigger.
  {
    binary: 'post-confirmation',
    purpose: 'Cognito post-confirmation trigger: add every new user to the attendee group.',
    trigger: 'postConfirmation',
    memoryMb: 128,
  },

  // ---- HTTP API routes: one binary per entry of `ticket_core::api::ROUTES`, named by its
  // operationId in kebab case (a Rust test checks each binary exists; a test here checks this
  // list against lambdas/core/api/openapi.json).
  {
    binary: 'create-event',
    purpose: 'POST /events: an organizer creates an event.',
    routes: [{ method: 'POST', path: '/events', auth: 'jwt' }],
    table: 'readWrite',
  },
  {
    binary: 'list-events',
    purpose: "GET /events: upcoming events (GSI2) with availability, or with ?mine=true the organizer's own (GSI1).",
    routes: [{ method: 'GET', path: '/events', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'get-event',
    purpose: 'GET /events/{id}: one event with its seats left.',
    routes: [{ method: 'GET', path: '/events/{id}', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'update-event',
    purpose: 'PUT /events/{id}: an organizer edits an event and its ticket types (If-Match names the version edited).',
    routes: [{ method: 'PUT', path: '/events/{id}', auth: 'jwt' }],
    table: 'readWrite',
  },
  {
    binary: 'publish-event',
    purpose: 'POST /events/{id}/publish: the organizer lists a draft (or an unpublished event) and opens its sales.',
    routes: [{ method: 'POST', path: '/events/{id}/publish', auth: 'jwt' }],
    table: 'readWrite',
  },
  {
    binary: 'unpublish-event',
    purpose: 'POST /events/{id}/unpublish: the organizer takes an event out of the listings and off sale (its tickets stay valid).',
    routes: [{ method: 'POST', path: '/events/{id}/unpublish', auth: 'jwt' }],
    table: 'readWrite',
  },
  {
    binary: 'cancel-event',
    purpose:
      'POST /events/{id}/cancel: the organizer cancels an event: sales stop at once, then the cancellation state machine refunds every order.',
    routes: [{ method: 'POST', path: '/events/{id}/cancel', auth: 'jwt' }],
    table: 'readWrite',
    startsCancellation: true,
  },
  {
    binary: 'get-event-cancellation',
    purpose: "GET /events/{id}/cancellation: how far a cancelled event's refunds have come, with the orders that failed.",
    routes: [{ method: 'GET', path: '/events/{id}/cancellation', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'get-event-stats',
    purpose: "GET /events/{id}/stats: held, sold, remaining and checked in, for the event's organizer.",
    routes: [{ method: 'GET', path: '/events/{id}/stats', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'checkout',
    purpose:
      'POST /events/{id}/checkout: hold the seats (and a promo code use) and open a Stripe Checkout session with its coupon (free orders start the saga).',
    routes: [{ method: 'POST', path: '/events/{id}/checkout', auth: 'jwt' }],
    table: 'readWrite',
    secrets: ['stripeSecretKey'],
    startsRegistration: true,
    siteUrl: true,
    // Four 6 s Stripe requests (coupon and session, and after a store failure expire + status) and the
    // store's writes, still inside API Gateway's 30 s: the handler answers, the gateway does not
    // time out first. A killed invocation's held seat is the reconcile pass's to release.
    timeoutSeconds: 29,
  },
  {
    binary: 'quote-order',
    purpose: "POST /events/{id}/quote: an order's price with a promo code's discount; holds nothing.",
    routes: [{ method: 'POST', path: '/events/{id}/quote', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'create-promo-code',
    purpose: 'POST /events/{id}/promo-codes: an organizer creates a promo code for one of their events.',
    routes: [{ method: 'POST', path: '/events/{id}/promo-codes', auth: 'jwt' }],
    table: 'readWrite',
  },
  {
    binary: 'list-promo-codes',
    purpose: "GET /events/{id}/promo-codes: an event's promo codes with their uses, for its organizer.",
    routes: [{ method: 'GET', path: '/events/{id}/promo-codes', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'update-promo-code',
    purpose: "PATCH /events/{id}/promo-codes/{code}: an organizer changes a code's use limit or validity window.",
    routes: [{ method: 'PATCH', path: '/events/{id}/promo-codes/{code}', auth: 'jwt' }],
    table: 'readWrite',
  },
  {
    binary: 'list-attendees',
    purpose: "GET /events/{id}/attendees: an organizer's attendee list (JSON or CSV) for one of their events.",
    routes: [{ method: 'GET', path: '/events/{id}/attendees', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'get-order',
    purpose: 'GET /orders/{id}: order status, with a fresh download link once FULFILLED.',
    routes: [{ method: 'GET', path: '/orders/{id}', auth: 'jwt' }],
    table: 'read',
    // A link serves the ticket as the event is now: after an edit it is drawn again on the
    // first ask (with the key RenderTicket signs with, and its memory).
    ticketFiles: ['check', 'write'],
    secrets: ['ticketSigningKey'],
    memoryMb: 512,
  },
  {
    binary: 'refund-order',
    purpose:
      "POST /orders/{id}/refund: the event's organizer refunds one order (tickets void, seats back, one Stripe refund; a refund cut short is the reconcile pass's to finish).",
    routes: [{ method: 'POST', path: '/orders/{id}/refund', auth: 'jwt' }],
    table: 'readWrite',
    secrets: ['stripeSecretKey'],
    // One Stripe refund with its retries, inside API Gateway's 30 s.
    timeoutSeconds: 29,
  },
  {
    binary: 'cancel-order',
    purpose:
      "POST /orders/{id}/cancel: a buyer cancels their own order for a full refund, until the event's cut-off (as refund-order does).",
    routes: [{ method: 'POST', path: '/orders/{id}/cancel', auth: 'jwt' }],
    table: 'readWrite',
    secrets: ['stripeSecretKey'],
    // One Stripe refund with its retries, inside API Gateway's 30 s.
    timeoutSeconds: 29,
  },
  {
    binary: 'get-organizer-profile',
    purpose: "GET /me/organizer-profile: the organizer's name on tickets and event pages, and contact.",
    routes: [{ method: 'GET', path: '/me/organizer-profile', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'put-organizer-profile',
    purpose: "PUT /me/organizer-profile: the organizer saves the name their tickets and event pages show.",
    routes: [{ method: 'PUT', path: '/me/organizer-profile', auth: 'jwt' }],
    table: 'readWrite',
  },
  {
    binary: 'list-my-tickets',
    purpose: "GET /me/tickets: the caller's tickets (GSI1).",
    routes: [{ method: 'GET', path: '/me/tickets', auth: 'jwt' }],
    table: 'read',
  },
  {
    binary: 'download-ticket',
    purpose: "GET /tickets/{id}/download: a fresh short-lived link to the owner's ticket PDF, drawn again after an edit of its event.",
    routes: [{ method: 'GET', path: '/tickets/{id}/download', auth: 'jwt' }],
    table: 'read',
    ticketFiles: ['check', 'write'],
    secrets: ['ticketSigningKey'],
    memoryMb: 512,
  },
  {
    binary: 'rename-ticket-holder',
    purpose: "PATCH /tickets/{id}: the buyer renames a ticket's holder before the event; its PDF is drawn again.",
    routes: [{ method: 'PATCH', path: '/tickets/{id}', auth: 'jwt' }],
    table: 'readWrite',
    ticketFiles: ['write'],
    // Drawing the ticket again signs its code with the same key as RenderTicket, and takes
    // the memory (and so the CPU) RenderTicket has.
    secrets: ['ticketSigningKey'],
    memoryMb: 512,
  },
  {
    binary: 'scan-ticket',
    purpose: 'POST /scan: verify a ticket code and redeem it once, for the organizer of its event.',
    routes: [{ method: 'POST', path: '/scan', auth: 'jwt' }],
    table: 'readWrite',
    // Verification needs only the public key, derived from the signing key's secret text.
    secrets: ['ticketSigningKey'],
  },
  {
    binary: 'stripe-webhook',
    purpose: 'POST /stripe/webhook: verify the Stripe signature, start the saga or release the hold.',
    // Stripe cannot present a JWT: the handler verifies Stripe-Signature over the raw body.
    routes: [{ method: 'POST', path: '/stripe/webhook', auth: 'none' }],
    table: 'readWrite',
    secrets: ['stripeWebhookSecret'],
    startsRegistration: true,
  },

  // ---- Event cancellation: one function per task state of statemachines/cancellation.asl.json.
  {
    binary: 'list-sold-orders',
    purpose: "Cancellation step: the next page (at most 1,000) of a cancelled event's sold orders.",
    cancellationStep: 'ListSoldOrders',
    table: { items: ['GetItem', 'Query'], indexes: [] },
  },
  {
    binary: 'refund-cancelled-order',
    purpose: 'Cancellation step: refund one order of a cancelled event (tickets void, seats back, one Stripe refund).',
    cancellationStep: 'RefundCancelledOrder',
    table: 'readWrite',
    secrets: ['stripeSecretKey'],
  },
  {
    binary: 'record-refund-failure',
    purpose: 'Cancellation step: list an order whose refund kept failing, with the reason, for the organizer.',
    cancellationStep: 'RecordRefundFailure',
    table: { items: ['PutItem'], indexes: [] },
  },
  {
    binary: 'finish-cancellation',
    purpose: 'Cancellation step: mark the cancellation finished, or ask for another pass while an order is being registered.',
    cancellationStep: 'FinishCancellation',
    table: { items: ['GetItem', 'Query', 'UpdateItem'], indexes: [] },
  },

  // ---- Scheduled.
  {
    binary: 'reconcile',
    purpose:
      'Every minute: one reconciliation pass (ticket_core::reconcile): expired holds released, PENDING orders settled with Stripe, refunds cut short finished, cancellations started.',
    schedule: { rateMinutes: 1 },
    // Under the 1-minute rate, so a pass is over before the next tick; a backlog bigger than one
    // pass is the next pass's (each action is done, or not, on its own).
    timeoutSeconds: 50,
    // Two passes at once are safe (every action is conditional and idempotent) but gain nothing.
    reservedConcurrency: 1,
    // What the pass's store calls need: GetItem (holds, orders, events), UpdateItem (releases and
    // order transitions, alone or in TransactWriteItems), Query on the sparse GSI3 of due items.
    table: { items: ['GetItem', 'UpdateItem'], indexes: ['GSI3'] },
    secrets: ['stripeSecretKey'],
    startsRegistration: true,
    // A cancellation whose refunds never started (its request died midway) is started here.
    startsCancellation: true,
  },
];

/** The saga steps, in list order. */
export function stepLambdas(list: readonly LambdaSpec[] = LAMBDAS): LambdaSpec[] {
  return list.filter((spec) => spec.step !== undefined);
}

/** The cancellation's steps, in list order. */
export function cancellationStepLambdas(list: readonly LambdaSpec[] = LAMBDAS): LambdaSpec[] {
  return list.filter((spec) => spec.cancellationStep !== undefined);
}

/** The functions an EventBridge schedule invokes. */
export function scheduledLambdas(list: readonly LambdaSpec[] = LAMBDAS): LambdaSpec[] {
  return list.filter((spec) => spec.schedule !== undefined);
}

/** The function's timeout in seconds: its own, or the default of its kind. */
export function timeoutOf(spec: LambdaSpec): number {
  return spec.timeoutSeconds ?? (spec.step || spec.cancellationStep ? 25 : spec.trigger ? 5 : 10);
}

/** Every route of every function, with the binary serving it. */
export function routesOf(list: readonly LambdaSpec[] = LAMBDAS): Array<Route & { binary: string }> {
  return list.flatMap((spec) => (spec.routes ?? []).map((route) => ({ ...route, binary: spec.binary })));
}

/** The environment variable names a spec leads to (values are set by the CDK app). */
export function envNamesOf(spec: LambdaSpec): string[] {
  const names: string[] = [];
  if (spec.table) names.push(ENV.table);
  if (spec.ticketFiles?.length) names.push(ENV.ticketFiles);
  for (const secret of spec.secrets ?? []) names.push(SECRET_ENV[secret]);
  if (spec.startsRegistration) names.push(ENV.stateMachine);
  if (spec.startsCancellation) names.push(ENV.cancellationStateMachine);
  if (spec.siteUrl) names.push(ENV.siteUrl);
  return names;
}

/** Refuses a list with duplicate binaries, routes or steps: caught at synth, not at deploy. */
export function checkList(list: readonly LambdaSpec[]): void {
  const seen = new Set<string>();
  for (const spec of list) {
    if (!/^[a-z][a-z0-9-]*$/.test(spec.binary)) throw new Error(`binary name ${spec.binary} is not kebab-case`);
    if (seen.has(spec.binary)) throw new Error(`binary ${spec.binary} is listed twice`);
    seen.add(spec.binary);
  }
  const routes = new Set<string>();
  for (const route of routesOf(list)) {
    const key = `${route.method} ${route.path}`;
    if (routes.has(key)) throw new Error(`route ${key} is listed twice`);
    routes.add(key);
  }
  for (const spec of list) {
    const kinds = [spec.step, spec.cancellationStep, spec.routes?.length, spec.trigger, spec.schedule].filter(
      Boolean,
    ).length;
    if (kinds > 1) throw new Error(`${spec.binary} is more than one of a step, a route, a trigger and a schedule`);
    if (spec.schedule && !(Number.isInteger(spec.schedule.rateMinutes) && spec.schedule.rateMinutes >= 1)) {
      throw new Error(`${spec.binary}: schedule rateMinutes must be a whole number of minutes`);
    }
  }
  const steps = new Set<string>();
  for (const step of [...stepLambdas(list).map((s) => s.step!), ...cancellationStepLambdas(list).map((s) => s.cancellationStep!)]) {
    if (steps.has(step)) throw new Error(`step ${step} is listed twice`);
    steps.add(step);
  }
}
