/**
 * Board facts in one round trip: `info(exec) -> BoardInfo` (MicroPython version and
 * machine, free RAM after a collection, free flash, deflate/sha1 support, and the
 * updater's /version.json and /.ota/state.json; null when absent, "invalid" when unreadable).
 */
import { OtaError } from '../errors';

export interface BoardInfo {
  implementation: string;
  /** e.g. "1.27.0" */
  version: string;
  /** os.uname().version, e.g. "v1.27.0 on 2025-12-09" */
  build: string;
  /** e.g. "ESP32C3 module with ESP32C3" */
  machine: string;
  platform: string;
  memFree: number;
  memAlloc: number;
  fsFree: number | null;
  fsTotal: number | null;
  deflate: boolean;
  sha1: boolean;
  versionJson: unknown;
  otaState: unknown;
}

const SCRIPT = `import sys,os,gc,json
gc.collect()
def _r(p):
 try:
  f=open(p)
 except OSError:
  return None
 try:
  return json.load(f)
 except Exception:
  return 'invalid'
 finally:
  f.close()
_i={'implementation':sys.implementation.name,'version':'.'.join([str(x) for x in sys.implementation.version[:3]]),'platform':sys.platform,'memFree':gc.mem_free(),'memAlloc':gc.mem_alloc(),'build':'','machine':getattr(sys.implementation,'_machine',''),'fsFree':None,'fsTotal':None}
try:
 _u=os.uname();_i['build']=_u[3];_i['machine']=_u[4]
except Exception:
 pass
try:
 _s=os.statvfs('/');_i['fsFree']=_s[0]*_s[3];_i['fsTotal']=_s[0]*_s[2]
except Exception:
 pass
try:
 import deflate;_i['deflate']=hasattr(deflate,'DeflateIO')
except ImportError:
 _i['deflate']=False
import hashlib
_i['sha1']=hasattr(hashlib,'sha1')
_i['versionJson']=_r('/version.json');_i['otaState']=_r('/.ota/state.json')
print(json.dumps(_i))
del _i,_r
`;

/** `exec` runs code in the raw REPL; the script needs no board helpers, so this is one command. */
export async function info(exec: (code: string) => Promise<Buffer>): Promise<BoardInfo> {
  const out = (await exec(SCRIPT)).toString('utf8').trim();
  try {
    return JSON.parse(out.slice(out.lastIndexOf('\n') + 1)) as BoardInfo;
  } catch (err) {
    throw new OtaError('protocol', `unexpected board facts: ${JSON.stringify(out.slice(0, 200))}`, {
      cause: err,
    });
  }
}
