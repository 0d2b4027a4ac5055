import { waitOut, type PatienceOptions } from '../patience.ts';
import { isRepeatableBody, StorageUnavailableError, type StorageDriver } from './driver.ts';

const isOutage = (err: unknown) => err instanceof StorageUnavailableError && err.transient;

/**
 * The same store, whose operations wait out an outage of it (a transient StorageUnavailableError:
 * an object store down, restarting or failing; not refused credentials) for up to `patienceMs`,
 * trying again with backoff, instead of failing at once. For workers, as patientPool is for the database: an encode must not spend
 * its attempts, and end Errored, because the store restarted. A stream body can be read only
 * once, so a put of a stream is not tried again.
 */
export function patientStorage(driver: StorageDriver, o: PatienceOptions): StorageDriver {
  const patiently = <T>(op: () => Promise<T>) => waitOut(op, isOutage, o);
  return {
    name: driver.name,
    put: (key, body) => (isRepeatableBody(body) ? patiently(() => driver.put(key, body)) : driver.put(key, body)),
    putFile: (key, localPath) => patiently(() => driver.putFile(key, localPath)),
    get: (key, range, expected) => patiently(() => driver.get(key, range, expected)),
    getToFile: (key, localPath) => patiently(() => driver.getToFile(key, localPath)),
    localFile: (key) => patiently(() => driver.localFile(key)),
    readUrl: (key, expires, answer) => patiently(() => driver.readUrl(key, expires, answer)),
    stat: (key) => patiently(() => driver.stat(key)),
    list: (prefix) => patiently(() => driver.list(prefix)),
    deletePrefix: (prefix) => patiently(() => driver.deletePrefix(prefix)),
    check: () => driver.check(),
    directUrl: (key, expiresSeconds) => driver.directUrl(key, expiresSeconds),
    uploadUrl: (key, size, expiresSeconds, contentType) => driver.uploadUrl(key, size, expiresSeconds, contentType),
  };
}
