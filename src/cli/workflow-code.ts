import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Runtime, type BundleOptions, type Logger, type WorkerOptions } from '@temporalio/worker';

/*
 * The workflow code a worker runs. Temporal's bundler (webpack) turns src/workflows into the
 * sandbox's code: at start-up when Gilfoyle runs from a checkout, when the binary is built for
 * the binary (it carries no sources to bundle, nor the bundler's TypeScript compiler). Both
 * bundle with the one `workflowBundleOptions`, so the binary runs the same workflow code.
 */

// index.ts when run from the sources (tsx, jest), index.js when run from the build (dist/).
export const workflowsPath = fileURLToPath(
  new URL(`../workflows/index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** What the workflow code is bundled with, at start-up and when the binary is built alike. */
export const workflowBundleOptions = {
  workflowsPath,
  // OpenTelemetry's workflow interceptors: a span per workflow run, activity and child workflow,
  // exported through the worker's `exporter` sink (a no-op processor when tracing is off).
  workflowInterceptorModules: [
    createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
  ] as string[],
} satisfies BundleOptions;

/** Where the binary's build puts the bundle, beside dist/cli: dist/workflow-bundle.js. */
export const prebuiltBundlePath = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/** True in the `gilfoyle` binary (a Node.js single-executable application). */
export const runsFromBinary = (): boolean => process.getBuiltinModule('node:sea')?.isSea() ?? false;

/** The bundle for the binary's build, written to `prebuiltBundlePath`. */
export async function bundleWorkflows(logger?: Logger): Promise<string> {
  return (await bundleWorkflowCode({ ...workflowBundleOptions, logger })).code;
}

/**
 * The worker's workflow code: the binary's prebuilt bundle, else bundled now (logging through
 * Temporal's runtime logger, as the worker's own bundling would).
 */
export async function workflowCodeOptions(): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  if (runsFromBinary()) return { workflowBundle: { codePath: prebuiltBundlePath } };
  return { workflowBundle: { code: await bundleWorkflows(Runtime.instance().logger) } };
}
