import { Duration, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Auth } from './auth';
import { HttpMethodName, routesOf } from './functions';
import { Lambdas, LOG_RETENTION, pascal } from './lambdas';
import { acknowledge } from './nag';

/** Default route throttling of the stage (per account and region, all routes together per route key). */
export const THROTTLE = { rateLimit: 50, burstLimit: 100 } as const;

export interface ApiProps {
  readonly lambdas: Lambdas;
  readonly auth: Auth;
  /** The only origin CORS allows: the site's. */
  readonly siteOrigin: string;
}

/** The HTTP API: one route per entry of the function list, JWT-authorized unless marked `none`. */
export class Api extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  /** Base URL, no trailing slash: `https://<id>.execute-api.<region>.amazonaws.com`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const routes = routesOf(props.lambdas.specs);
    const methods = [...new Set(routes.map((route) => route.method))].sort();

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${Stack.of(this).stackName}-api`,
      description: 'Ticketing API (Lambda proxy, payload v2)',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: [props.siteOrigin],
        allowMethods: [...methods.map((m) => apigwv2.CorsHttpMethod[m]), apigwv2.CorsHttpMethod.OPTIONS],
        allowHeaders: ['authorization', 'content-type', 'if-match'],
        exposeHeaders: ['etag'],
        allowCredentials: false,
        maxAge: Duration.hours(1),
      },
    });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: LOG_RETENTION });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      autoDeploy: true,
      throttle: THROTTLE,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            userSub: '$context.authorizer.claims.sub',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    this.url = this.httpApi.apiEndpoint;

    const authorizer = new HttpUserPoolAuthorizer('CognitoJwt', props.auth.userPool, {
      userPoolClients: [props.auth.client],
      identitySource: ['$request.header.Authorization'],
    });

    const integrations = new Map<string, HttpLambdaIntegration>();
    for (const route of routes) {
      let integration = integrations.get(route.binary);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${pascal(route.binary)}Integration`, props.lambdas.get(route.binary));
        integrations.set(route.binary, integration);
      }
      const [added] = this.httpApi.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method as HttpMethodName]],
        integration,
        authorizer: route.auth === 'jwt' ? authorizer : new apigwv2.HttpNoneAuthorizer(),
      });
      if (route.auth === 'none') {
        const why =
          route.path === '/stripe/webhook'
            ? 'Stripe calls the webhook and cannot present a Cognito JWT; the handler verifies the Stripe-Signature HMAC-SHA256 over the raw body (300 s tolerance) before acting.'
            : undefined;
        if (!why) throw new Error(`route ${route.method} ${route.path} has no authorizer and no documented reason`);
        acknowledge(added, 'AwsSolutions-APIG4', why);
      }
    }
  }
}
