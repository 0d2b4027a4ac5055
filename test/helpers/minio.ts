import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Driver } from '../../src/storage/s3-driver.ts';

/** The MinIO server `npm run services` starts (scripts/services.sh). */
export const minio = {
  endpoint: 'http://127.0.0.1:9000',
  region: 'us-east-1',
  accessKeyId: 'gilfoyle',
  secretAccessKey: 'gilfoyle-secret',
};

export const minioClient = () =>
  new S3Client({
    endpoint: minio.endpoint,
    region: minio.region,
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
  });

/** A fresh bucket for one test file, so runs never see each other's objects. */
export async function createTestBucket(prefix = 'gilfoyle-test'): Promise<string> {
  const bucket = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const client = minioClient();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return bucket;
}

export async function removeTestBucket(bucket: string): Promise<void> {
  const driver = createS3Driver({ ...minio, bucket, forcePathStyle: true });
  await driver.deletePrefix('');
  const client = minioClient();
  await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  client.destroy();
}

/** GILFOYLE_* variables that point a spawned gilfoyle at MinIO. */
export const minioEnv = (bucket: string): Record<string, string> => ({
  GILFOYLE_STORAGE_DRIVER: 's3',
  GILFOYLE_STORAGE_S3_ENDPOINT: minio.endpoint,
  GILFOYLE_STORAGE_S3_REGION: minio.region,
  GILFOYLE_STORAGE_S3_BUCKET: bucket,
  GILFOYLE_STORAGE_S3_ACCESS_KEY_ID: minio.accessKeyId,
  GILFOYLE_STORAGE_S3_SECRET_ACCESS_KEY: minio.secretAccessKey,
  GILFOYLE_STORAGE_S3_FORCE_PATH_STYLE: 'true',
});
