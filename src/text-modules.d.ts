// Files imported as their text (esbuild's `text` loader; src/core/text-import.ts from source).
declare module '*.py' {
  const text: string;
  export default text;
}
