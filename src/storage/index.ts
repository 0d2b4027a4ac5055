import type { Config } from '../config/schema.ts';
import type { StorageDriver } from './driver.ts';
import { createFsDriver } from './fs-driver.ts';

export function createStorage(config: Config['storage']): StorageDriver {
  switch (config.driver) {
    case 'fs':
      return createFsDriver(config.fs.root);
  }
}
export * from './driver.ts';
