/**
 * The AWS SDK warns on every start under Node 20 about its coming Node 22 requirement. The deployed
 * Lambdas run Node 22; locally the notice only buries the output, so turn it off unless the user set
 * the SDK's own switch.
 */
export function hideSdkNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
