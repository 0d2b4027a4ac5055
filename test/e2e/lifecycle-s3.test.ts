import { createTestBucket, minioEnv, removeTestBucket } from '../helpers/minio.ts';
import { describeLifecycle } from './lifecycle.suite.ts';

// The same lifecycle with storage.driver s3 on MinIO: sources and renditions go through the S3 API,
// segments are served by 302 to presigned MinIO URLs, playlists by Gilfoyle.
describeLifecycle('s3', async () => {
  const bucket = await createTestBucket('gilfoyle-e2e');
  return { env: minioEnv(bucket), cleanup: () => removeTestBucket(bucket) };
});
