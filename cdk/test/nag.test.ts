import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { buildApp } from '../lib/app';
import { recordedAcknowledgements, setApplyingAcknowledgements } from '../lib/nag';
import { tempDir } from './helpers';

interface Violation {
  readonly rule: string;
  readonly path: string;
  readonly severity: string;
}

/** Synthesizes the skip-build app with cdk-nag's AwsSolutions pack and returns its findings. */
function nagFindings(applyAcknowledgements: boolean): { violations: Violation[]; acknowledgements: typeof recordedAcknowledgements } {
  recordedAcknowledgements.splice(0);
  setApplyingAcknowledgements(applyAcknowledgements);
  try {
    const outdir = tempDir('nag');
    const { app } = buildApp({ outdir, context: { skipBuild: 'true' } });
    let failure: unknown;
    try {
      app.synth();
    } catch (error) {
      failure = error;
    }
    const reportFile = path.join(outdir, 'validation-report.json');
    const report = fs.existsSync(reportFile) ? JSON.parse(fs.readFileSync(reportFile, 'utf8')) : { pluginReports: [] };
    const violations: Violation[] = [];
    for (const plugin of report.pluginReports) {
      for (const violation of plugin.violations) {
        for (const construct of violation.violatingConstructs ?? violation.violatingResources ?? []) {
          violations.push({ rule: violation.ruleName, path: construct.constructPath, severity: violation.severity });
        }
      }
    }
    if (failure && violations.length === 0) throw failure;
    return { violations, acknowledgements: [...recordedAcknowledgements] };
  } finally {
    setApplyingAcknowledgements(true);
  }
}

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged finding, error or warning', () => {
    const { violations } = nagFindings(true);
    assert.deepEqual(
      violations.map((v) => `${v.severity} ${v.rule} at ${v.path}`),
      [],
    );
  });

  it('every acknowledgement has a reason and still covers a finding (none is stale)', () => {
    const { violations, acknowledgements } = nagFindings(false);
    assert.ok(acknowledgements.length > 0);
    const seen = new Set<string>();
    for (const ack of acknowledgements) {
      const key = `${ack.id} at ${ack.path}`;
      assert.ok(!seen.has(key), `acknowledged twice: ${key}`);
      seen.add(key);
      assert.ok(ack.reason.length >= 40 && !/^(todo|n\/a|suppress|ok|fine)\b/i.test(ack.reason), `${key}: "${ack.reason}"`);
      const covered = violations.some(
        (v) => v.rule === ack.id && (v.path === ack.path || v.path.startsWith(`${ack.path}/`)),
      );
      assert.ok(covered, `stale acknowledgement (no such finding): ${key}`);
    }
  });
});
