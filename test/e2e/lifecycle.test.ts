import { describeLifecycle } from './lifecycle.suite.ts';

describeLifecycle('fs', async () => ({ env: {}, cleanup: async () => undefined }));
