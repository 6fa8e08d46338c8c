import { Aws, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { acknowledge } from './nag';
import { FRONTEND_DIR } from './paths';

/** Files of `frontend/` that are tooling, not the site (html5-qrcode is served from `vendor/`). */
export const SITE_EXCLUDES = ['node_modules', 'package.json', 'package-lock.json', 'scripts'];

/** What the site reads from `/config.json` at run time. */
export interface SiteConfig {
  readonly apiUrl: string;
  readonly cognitoDomain: string;
  readonly clientId: string;
  readonly region: string;
}

/**
 * The page's Content-Security-Policy. `connect-src` names the Cognito hosted UI exactly, but the
 * API only by region: the API's CORS names the distribution's domain, so the distribution's
 * headers policy cannot name the API's id without a dependency cycle in CloudFormation.
 */
export function contentSecurityPolicy(cognitoDomainUrl: string): string {
  return [
    "default-src 'self'",
    `connect-src 'self' https://*.execute-api.${Aws.REGION}.amazonaws.com ${cognitoDomainUrl}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    'upgrade-insecure-requests',
  ].join('; ');
}

export interface SiteProps {
  readonly logsBucket: s3.IBucket;
  /** The hosted UI's base URL, allowed in `connect-src` (token endpoint). */
  readonly cognitoDomainUrl: string;
}

/** Private bucket + CloudFront (origin access control, security headers, SPA routing). */
export class Site extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** `https://<distribution>.cloudfront.net`, no trailing slash: the site's origin. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: SiteProps) {
    super(scope, id);

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: props.logsBucket,
      serverAccessLogsPrefix: 'site-bucket/',
    });

    // CloudFront names are account-wide: the stack (with its stage) and the region keep two
    // deployments in one account apart.
    const globalName = (what: string) => Fn.join('-', [Stack.of(this).stackName, Aws.REGION, what]);
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      responseHeadersPolicyName: globalName('site-headers'),
      comment: 'Ticketing site: CSP, HSTS, no framing, no sniffing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: contentSecurityPolicy(props.cognitoDomainUrl), override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [
          // The door scanner reads QR codes with the camera; nothing else is needed.
          { header: 'Permissions-Policy', value: 'camera=(self), microphone=(), geolocation=(), payment=()', override: true },
        ],
      },
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `${Stack.of(this).stackName} site`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket, {
          originAccessControl: new cloudfront.S3OriginAccessControl(this, 'OriginAccess', {
            originAccessControlName: globalName('site'),
          }),
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
      // No error pages: the site routes by query string (`/?event=…`), so every page is `/`, and
      // a missing asset or an access mistake shows as the error it is, not as index.html.
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: props.logsBucket,
      logFilePrefix: 'cloudfront/',
    });
    this.url = `https://${this.distribution.distributionDomainName}`;

    acknowledge(
      this.distribution,
      'AwsSolutions-CFR1',
      'Tickets are sold to attendees wherever they are; the site serves only static files and there is no country the service must exclude.',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR2',
      'The distribution serves only static files from a private bucket (no forms, no origin logic); the API is not behind it and has its own throttling and JWT authorizer. Add a web ACL if abuse appears.',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR4',
      'The site uses the default *.cloudfront.net certificate, for which CloudFront fixes the minimum protocol; TLSv1.2_2021 needs a custom domain with an ACM certificate, which this stack does not have yet.',
    );
  }

  /** Uploads `frontend/` and the run-time `config.json`, then invalidates the cache. */
  deployContent(config: SiteConfig): s3deploy.BucketDeployment {
    const deployment = new s3deploy.BucketDeployment(this, 'Content', {
      sources: [s3deploy.Source.asset(FRONTEND_DIR, { exclude: SITE_EXCLUDES }), s3deploy.Source.jsonData('config.json', config)],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      memoryLimit: 256,
      // Browsers revalidate every time; CloudFront keeps objects until the next deploy invalidates them.
      cacheControl: [
        s3deploy.CacheControl.setPublic(),
        s3deploy.CacheControl.maxAge(Duration.seconds(0)),
        s3deploy.CacheControl.sMaxAge(Duration.days(365)),
        s3deploy.CacheControl.mustRevalidate(),
      ],
    });
    acknowledgeBucketDeploymentHandler(Stack.of(this), Stack.of(this).resolve((this.bucket.node.defaultChild as s3.CfnBucket).logicalId));
    return deployment;
  }
}

/**
 * CDK's BucketDeployment runs a stack-level singleton Lambda (`Custom::CDKBucketDeployment...`)
 * whose runtime, role and policies CDK sets. Its findings are acknowledged on that singleton only.
 */
function acknowledgeBucketDeploymentHandler(stack: Stack, siteBucketLogicalId: string): void {
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
    const cdkOwned = 'CDK BucketDeployment provider, created and versioned by aws-cdk-lib; runs only during deploys.';
    acknowledge(
      child,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      `${cdkOwned} It writes its own logs through the basic execution role that CDK attaches.`,
    );
    acknowledge(child, 'AwsSolutions-L1', `${cdkOwned} Its Python runtime is pinned by aws-cdk-lib and moves with CDK upgrades.`);
    const copies = `${cdkOwned} It copies the site from the CDK assets bucket into the site bucket (read, write, prune), with the grants CDK writes for that.`;
    for (const finding of [
      'Action::s3:GetBucket*',
      'Action::s3:GetObject*',
      'Action::s3:List*',
      'Action::s3:Abort*',
      'Action::s3:DeleteObject*',
      'Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*',
      `Resource::<${siteBucketLogicalId}.Arn>/*`,
    ]) {
      acknowledge(child, `AwsSolutions-IAM5[${finding}]`, copies);
    }
    acknowledge(
      child,
      'AwsSolutions-IAM5[Resource::*]',
      `${cdkOwned} CDK grants cloudfront:CreateInvalidation/GetInvalidation on * to invalidate the site's distribution after each upload.`,
    );
  }
}
