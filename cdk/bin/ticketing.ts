#!/usr/bin/env node
import { buildApp } from '../lib/app';
import { MissingLambdaBuild } from '../lib/lambdas';

try {
  buildApp().app.synth();
} catch (error) {
  if (!(error instanceof MissingLambdaBuild)) throw error;
  console.error(error.message);
  process.exit(1);
}
