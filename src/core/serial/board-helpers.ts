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
 *   _oY(t,p,n,sha,c) stream n raw bytes from sys.stdin.buffer into temp file t, then check and
 *                   rename as _oC; flow control: the board prints ACK (0x06) when it waits for a
 *                   block, the host then sends it: c encoded bytes (<= STREAM_BLOCK) and 4 hex
 *                   digits, the next block's c; in one read, so the board is never busy while
 *                   bytes arrive. 0x10 is sent as 10 11 and 0x03 as 10 12, so no data byte is
 *                   Ctrl-C: the board stays interruptible (a host that went away mid-file is
 *                   answered by the next one's Ctrl-C). The board reads each block while it
 *                   arrives, so only a few bytes ever wait in its 260-byte receive ring.
 *   _oG(p,o,k,x)    print k bytes of a file from offset o, as hex (x) or base64 lines
 * Everything streams through small buffers: boards have ~100 KB of heap.
 * Loading them prints three flags: deflate.DeflateIO present, sys.stdin.buffer present
 * (raw streaming with _oY), and binascii being
 * micropython-lib's pure-Python one (some builds freeze it; its tables give it away, as
 * builtin and Python functions alike are of type 'function') while bytes.fromhex is
 * native: there hex decodes ~100x faster than base64, which outweighs its size on the wire.
 */

/** Largest encoded block _oY reads at once (its buffer on the board). */
export const STREAM_BLOCK = 4096;
export const STREAM_ACK = 0x06;

export const HELPERS = `import os,sys,gc,binascii as _oB,hashlib as _oh
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
def _oN(s,v):
 j=0
 while j<len(v):j+=s.readinto(v[j:])
def _oY(t,p,n,h,c):
 global _oF
 s=sys.stdin.buffer;b=bytearray(${STREAM_BLOCK}+4);m=memoryview(b);k=0;i=0
 _oF=open(t,'wb')
 while k<n:
  # Each block leaves ~3 blocks of garbage: collect often, so 4 KB stays free in one piece.
  if not i&3:gc.collect()
  i+=1
  sys.stdout.write('\\x06')
  _oN(s,m[:c+4])
  x=bytes(m[:c]);c=int(bytes(m[c:c+4]),16)
  if b'\\x10' in x:x=x.replace(b'\\x10\\x12',b'\\x03').replace(b'\\x10\\x11',b'\\x10')
  _oF.write(x);k+=len(x)
 _oC(t,p,h)
def _oG(p,o,k,x):
 b=bytearray(384);m=memoryview(b)
 f=open(p,'rb');f.seek(o)
 while k>0:
  n=f.readinto(m[:min(k,384)])
  if not n:break
  k-=n
  print(bytes(m[:n]).hex() if x else _oB.b2a_base64(m[:n]).decode().strip())
 f.close()
print(1 if _oD and hasattr(_oD,'DeflateIO') else 0,1 if hasattr(sys.stdin,'buffer') else 0,1 if hasattr(_oB,'table_a2b_base64') and hasattr(bytes,'fromhex') else 0)
`;

/** A host string as a Python string literal (JSON's escapes are valid Python). */
export function py(s: string): string {
  return JSON.stringify(s);
}
