/**
 * The Python helpers the host installs in the board's raw REPL globals once per
 * session (names start with `_o` to stay out of the user's way), and `py()` to quote
 * host strings as Python literals.
 *
 *   _oH(p)          sha256 hex of a file, read in 512-byte pieces
 *   _oL(d, h)       recursive listing: lines "D 0 - /dir" and "F size sha256|- /path"
 *   _oS(paths)      for each path a line "size sha256 path", or "- - path" when missing
 *   _oM(p)          mkdir -p
 *   _oR(p)          rm -r (missing is fine)
 *   _oO(t)/_oW(b64)/_oWZ(b64)/_oX(hex)/_oXZ(hex)/_oC(t, p, sha)
 *                   open temp file, append a base64 or hex (raw-deflate) chunk, then close,
 *                   check the sha256 of what reached flash and rename over `p`
 *   _oG(p,o,k,x)    print k bytes of a file from offset o, as hex (x) or base64 lines
 * Everything streams through small buffers: boards have ~100 KB of heap.
 * Loading them prints two flags: deflate.DeflateIO present, and binascii being
 * micropython-lib's pure-Python one (some builds freeze it; its tables give it away, as
 * builtin and Python functions alike are of type 'function') while bytes.fromhex is
 * native: there hex decodes ~100x faster than base64, which outweighs its size on the wire.
 */

export const HELPERS = `import os,gc,binascii as _oB,hashlib as _oh
try:
 import deflate as _oD,io as _oI
except ImportError:
 _oD=None
def _oH(p):
 h=_oh.sha256();b=bytearray(512);m=memoryview(b)
 f=open(p,'rb')
 while 1:
  n=f.readinto(b)
  if not n:break
  h.update(m[:n])
 f.close()
 return _oB.hexlify(h.digest()).decode()
def _oJ(d,n):
 return d+n if d.endswith('/') else d+'/'+n
def _oL(d,h):
 for e in os.ilistdir(d):
  p=_oJ(d,e[0])
  if e[1]&0x4000:
   print('D 0 -',p);_oL(p,h)
  else:
   print('F',os.stat(p)[6],_oH(p) if h else '-',p)
def _oS(ps):
 for p in ps:
  try:
   s=os.stat(p)
   print(s[6],'-' if s[0]&0x4000 else _oH(p),p)
  except OSError:
   print('- -',p)
def _oM(p):
 q=''
 for s in p.split('/'):
  if s:
   q+='/'+s
   try:os.mkdir(q)
   except OSError:
    if not os.stat(q)[0]&0x4000:raise
def _oR(p):
 try:m=os.stat(p)[0]
 except OSError:return
 if m&0x4000:
  for e in list(os.ilistdir(p)):_oR(_oJ(p,e[0]))
  os.rmdir(p)
 else:os.remove(p)
def _oO(t):
 global _oF
 _oF=open(t,'wb')
def _oW(s):
 _oF.write(_oB.a2b_base64(s))
def _oWZ(s):
 _oF.write(_oD.DeflateIO(_oI.BytesIO(_oB.a2b_base64(s)),_oD.RAW,12).read())
def _oX(s):
 _oF.write(bytes.fromhex(s))
def _oXZ(s):
 _oF.write(_oD.DeflateIO(_oI.BytesIO(bytes.fromhex(s)),_oD.RAW,12).read())
def _oC(t,p,h):
 _oF.close()
 g=_oH(t)
 if g!=h:
  os.remove(t);raise OSError('sha256 mismatch writing '+p+': '+g)
 os.rename(t,p)
def _oG(p,o,k,x):
 b=bytearray(384);m=memoryview(b)
 f=open(p,'rb');f.seek(o)
 while k>0:
  n=f.readinto(m[:min(k,384)])
  if not n:break
  k-=n
  print(bytes(m[:n]).hex() if x else _oB.b2a_base64(m[:n]).decode().strip())
 f.close()
print(1 if _oD and hasattr(_oD,'DeflateIO') else 0,1 if hasattr(_oB,'table_a2b_base64') and hasattr(bytes,'fromhex') else 0)
`;

/** A host string as a Python string literal (JSON's escapes are valid Python). */
export function py(s: string): string {
  return JSON.stringify(s);
}
