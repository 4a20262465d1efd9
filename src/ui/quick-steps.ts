// One step of a multi-step quick input (VS Code's "Step 2/5" counter and Back button), as in
// vscode-extension-samples' multi-step sample: every step resolves to a value or BACK; Escape cancels.
import * as vscode from 'vscode';
import { OtaError } from '../core/errors';

export const BACK = Symbol('back');

interface StepBase {
  title: string;
  step: number;
  total: number;
}

function cancelled(): OtaError {
  return new OtaError('cancelled', 'Configuration cancelled; nothing was changed.');
}

export function pickStep<T extends vscode.QuickPickItem>(
  opts: StepBase & { placeholder: string; items: T[]; active?: T },
): Promise<T | typeof BACK> {
  const qp = vscode.window.createQuickPick<T>();
  Object.assign(qp, {
    title: opts.title,
    step: opts.step,
    totalSteps: opts.total,
    placeholder: opts.placeholder,
    items: opts.items,
    ignoreFocusOut: true,
    buttons: opts.step > 1 ? [vscode.QuickInputButtons.Back] : [],
  });
  if (opts.active) qp.activeItems = [opts.active];
  return new Promise<T | typeof BACK>((resolve, reject) => {
    let done = false;
    const finish = (v: T | typeof BACK | Error) => {
      done = true;
      qp.dispose();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    qp.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    qp.onDidAccept(() => qp.selectedItems[0] && finish(qp.selectedItems[0]));
    qp.onDidHide(() => !done && finish(cancelled()));
    qp.show();
  });
}

export function inputStep(
  opts: StepBase & {
    value: string;
    prompt: string;
    placeholder?: string;
    password?: boolean;
    validate?: (v: string) => string | undefined;
  },
): Promise<string | typeof BACK> {
  const box = vscode.window.createInputBox();
  Object.assign(box, {
    title: opts.title,
    step: opts.step,
    totalSteps: opts.total,
    value: opts.value,
    prompt: opts.prompt,
    placeholder: opts.placeholder,
    password: Boolean(opts.password),
    ignoreFocusOut: true,
    buttons: opts.step > 1 ? [vscode.QuickInputButtons.Back] : [],
  });
  return new Promise<string | typeof BACK>((resolve, reject) => {
    let done = false;
    const finish = (v: string | typeof BACK | Error) => {
      done = true;
      box.dispose();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const check = (v: string) => (box.validationMessage = opts.validate?.(v.trim()));
    box.onDidChangeValue(check);
    box.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    box.onDidAccept(() => {
      const v = box.value.trim();
      if (!opts.validate?.(v)) finish(v);
      else check(v);
    });
    box.onDidHide(() => !done && finish(cancelled()));
    box.show();
  });
}
