import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export interface RecordedAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgement made in this process, for the tests (each must still match a finding). */
export const recordedAcknowledgements: RecordedAcknowledgement[] = [];

let applying = true;

/** Tests only: record acknowledgements without applying them, to see the findings they cover. */
export function setApplyingAcknowledgements(on: boolean): void {
  applying = on;
}

/**
 * Acknowledges one cdk-nag finding on a construct (and everything under it), with the reason it
 * is acceptable here. cdk-nag 3 keys findings as `RuleId` or `RuleId[Finding]`, e.g.
 * `AwsSolutions-IAM5[Resource::*]`, and needs one acknowledgement per finding.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 40) {
    throw new Error(`acknowledgement of ${id} at ${scope.node.path} needs a real reason, not "${reason}"`);
  }
  recordedAcknowledgements.push({ path: scope.node.path, id, reason });
  if (applying) Validations.of(scope).acknowledge({ id, reason });
}
