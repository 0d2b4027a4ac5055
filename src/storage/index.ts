import type { Config } from '../config/schema.ts';
import type { StorageDriver } from './driver.ts';
import { createFsDriver } from './fs-driver.ts';

/** The configured driver. The S3 one (and the AWS SDK) is loaded only when configured. */
export async function createStorage(config: Config['storage']): Promise<StorageDriver> {
  switch (config.driver) {
    case 'fs':
      return createFsDriver(config.fs.root);
    case 's3': {
      const { createS3Driver } = await import('./s3-driver.ts');
      const s3 = config.s3;
      return createS3Driver({
        endpoint: s3.endpoint,
        region: s3.region,
        bucket: s3.bucket,
        accessKeyId: s3.access_key_id,
        secretAccessKey: s3.secret_access_key,
        forcePathStyle: s3.force_path_style,
        publicUrl: s3.public_url,
        partSize: s3.part_size,
      });
    }
  }
}
export * from './driver.ts';
