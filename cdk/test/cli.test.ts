import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { LAMBDAS } from '../lib/functions';
import { REPO_ROOT } from '../lib/paths';
import { tempDir } from './helpers';

const DEPLOY = path.join(REPO_ROOT, 'scripts', 'deploy');

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** cfn-lint from PATH or as a Python module; the scripts/test step installs the pinned version. */
function cfnLint(template: string): { status: number | null; output: string } {
  const args = ['--ignore-checks', 'W3005', '--', template];
  const direct = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (direct.status === 0) return run('cfn-lint', args);
  const module = spawnSync('python3', ['-m', 'cfnlint', '--version'], { encoding: 'utf8' });
  if (module.status === 0) return run('python3', ['-m', 'cfnlint', ...args]);
  assert.fail('cfn-lint is not installed: python3 -m pip install cfn-lint==1.51.0');
}

describe('cdk synth through scripts/deploy --dry-run', () => {
  it('synthesizes in skip-build mode with cdk-nag clean, and cfn-lint finds nothing', () => {
    const outdir = tempDir('cli-skip');
    const synth = run(DEPLOY, ['--dry-run', '--skip-build', '--outdir', outdir]);
    assert.equal(synth.status, 0, synth.output);
    const template = path.join(outdir, 'Ticketing.template.json');
    assert.ok(synth.output.includes(`template: ${template}`), synth.output);
    const json = JSON.parse(fs.readFileSync(template, 'utf8'));
    assert.ok(json.Rules.PlaceholderLambdasAreNotDeployable, 'a placeholder template cannot be deployed');
    const lint = cfnLint(template);
    assert.equal(lint.status, 0, lint.output);
    assert.equal(lint.output.trim(), '');
  });

  it('synthesizes with prebuilt bootstraps (the real bundling path), and cfn-lint finds nothing', () => {
    const lambdaDir = tempDir('cli-lambdas');
    for (const spec of LAMBDAS) {
      fs.mkdirSync(path.join(lambdaDir, spec.binary));
      fs.writeFileSync(path.join(lambdaDir, spec.binary, 'bootstrap'), `#!/bin/sh\n# ${spec.binary}\n`, { mode: 0o755 });
    }
    const outdir = tempDir('cli-real');
    const synth = run(DEPLOY, ['--dry-run', '--prebuilt', '--lambda-dir', lambdaDir, '--outdir', outdir]);
    assert.equal(synth.status, 0, synth.output);
    const template = path.join(outdir, 'Ticketing.template.json');
    const json = JSON.parse(fs.readFileSync(template, 'utf8'));
    assert.equal(json.Rules?.PlaceholderLambdasAreNotDeployable, undefined);
    // Each binary's directory became its own asset, staged in the cloud assembly.
    const staged = fs.readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    for (const spec of LAMBDAS) {
      assert.ok(
        staged.some((name) => fs.existsSync(path.join(outdir, name, 'bootstrap')) &&
          fs.readFileSync(path.join(outdir, name, 'bootstrap'), 'utf8').includes(`# ${spec.binary}\n`)),
        spec.binary,
      );
    }
    const lint = cfnLint(template);
    assert.equal(lint.status, 0, lint.output);
  });

  it('refuses to deploy placeholders, and names missing binaries', () => {
    const refused = run(DEPLOY, ['--skip-build']);
    assert.equal(refused.status, 2);
    assert.match(refused.output, /only allowed with --dry-run/);
    const missing = run(DEPLOY, ['--dry-run', '--prebuilt', '--lambda-dir', tempDir('cli-empty'), '--outdir', tempDir('cli-out')]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.output, /no bootstrap in .* for: confirm-seat, record-ticket/);
  });
});
