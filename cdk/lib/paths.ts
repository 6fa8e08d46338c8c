import * as path from 'node:path';

/** The repository root (`cdk/` is one level below it). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The ONE table definition, shared with the Rust tests. Read-only for the CDK app. */
export const TABLE_SCHEMA_PATH = path.join(REPO_ROOT, 'cdk', 'table-schema.json');
/** The ONE registration state machine definition, also run by ticketd. */
export const REGISTRATION_ASL_PATH = path.join(REPO_ROOT, 'statemachines', 'registration.asl.json');
/** The ONE cancellation state machine definition (refunds of a cancelled event), also run by ticketd. */
export const CANCELLATION_ASL_PATH = path.join(REPO_ROOT, 'statemachines', 'cancellation.asl.json');
/** The ONE description of the HTTP API, whose routes the route Lambdas serve. */
export const OPENAPI_PATH = path.join(REPO_ROOT, 'lambdas', 'core', 'api', 'openapi.json');
/** The hosted site, deployed as is. */
export const FRONTEND_DIR = path.join(REPO_ROOT, 'frontend');
/** Where `scripts/build-lambdas` puts `<binary>/bootstrap` unless told otherwise. */
export const DEFAULT_LAMBDA_DIR = path.join(REPO_ROOT, 'target', 'lambda');
