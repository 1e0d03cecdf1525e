import type { SourceFile } from './source-file.js';

/** The TypeScript compiler's module (a devDependency: loaded only when present). */
export type TypeScriptModule = typeof import('typescript');

/** A `.step(name, {...})` of a `defineSaga(...)` chain, as read from the source. */
export interface SagaStep {
  readonly saga: string;
  readonly name: string;
  /** `kind` as written; `compensatable` when absent, `undefined` when not a string literal. */
  readonly kind: string | undefined;
  readonly file: string;
  readonly line: number;
  /** The source text of the action (`action` or `local`), empty when not inline. */
  readonly actionText: string;
  /** `undefined` when the step has no `compensate`. */
  readonly compensate: StepCompensation | undefined;
  /** `retry.maxAttempts` when a number literal; `undefined` when absent, `'dynamic'` when computed. */
  readonly maxAttempts: number | 'dynamic' | undefined;
  /** Services the action calls (`clients.get('x')`, `ctx.client('x')`). */
  readonly calls: readonly string[];
}

/** A step's compensation: its text and whether it does anything but log. */
export interface StepCompensation {
  readonly line: number;
  /** `true` when the compensation is an inline function whose only calls are logging. */
  readonly onlyLogs: boolean;
}

/** Loads TypeScript if installed (it is not among flotilla's production dependencies). */
export async function loadTypeScript(): Promise<TypeScriptModule | undefined> {
  try {
    const mod = (await import('typescript')) as TypeScriptModule & { default?: TypeScriptModule };
    return mod.default ?? mod;
  } catch {
    return undefined;
  }
}

const CALLED_SERVICE = /\b(?:clients\s*\.\s*get|\.client)\(\s*['"]([\w-]+)['"]/g;
const LOGGING = /^(?:[\w$.]*\.)?(?:log|logger|console)\.\w+$|^(?:[\w$.]*\.)?(?:log|logger)$/;

/** Every step of every `defineSaga(...)...step(...)` chain in a file. */
export function sagaSteps(ts: TypeScriptModule, file: SourceFile): SagaStep[] {
  if (!file.text.includes('defineSaga')) return [];
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const steps: SagaStep[] = [];
  const lineAt = (node: import('typescript').Node) =>
    sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const visit = (node: import('typescript').Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'defineSaga'
    ) {
      const first = node.arguments[0];
      const saga =
        first !== undefined && ts.isStringLiteralLike(first) ? first.text : (first?.getText(sf) ?? '?');
      let chain: import('typescript').Node = node;
      for (;;) {
        const access = chain.parent;
        if (access === undefined || !ts.isPropertyAccessExpression(access) || access.expression !== chain)
          break;
        const call = access.parent;
        if (call === undefined || !ts.isCallExpression(call) || call.expression !== access) break;
        if (access.name.text === 'step') {
          const step = readStep(ts, sf, call, saga, file.path, lineAt);
          if (step !== undefined) steps.push(step);
        }
        chain = call;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return steps;
}

function readStep(
  ts: TypeScriptModule,
  sf: import('typescript').SourceFile,
  call: import('typescript').CallExpression,
  saga: string,
  path: string,
  lineAt: (node: import('typescript').Node) => number,
): SagaStep | undefined {
  const [nameArg, specArg] = call.arguments;
  if (nameArg === undefined || specArg === undefined || !ts.isObjectLiteralExpression(specArg))
    return undefined;
  const name = ts.isStringLiteralLike(nameArg) ? nameArg.text : nameArg.getText(sf);
  const prop = (obj: import('typescript').ObjectLiteralExpression, key: string) =>
    obj.properties.find(
      (p): p is import('typescript').PropertyAssignment | import('typescript').MethodDeclaration =>
        (ts.isPropertyAssignment(p) || ts.isMethodDeclaration(p)) && p.name.getText(sf) === key,
    );
  const initializerOf = (
    p: import('typescript').PropertyAssignment | import('typescript').MethodDeclaration,
  ) => (ts.isPropertyAssignment(p) ? p.initializer : p);
  const kindProp = prop(specArg, 'kind');
  const kindValue = kindProp === undefined ? undefined : initializerOf(kindProp);
  const kind =
    kindValue === undefined
      ? 'compensatable'
      : ts.isStringLiteralLike(kindValue)
        ? kindValue.text
        : undefined;
  const actionProp = prop(specArg, 'action') ?? prop(specArg, 'local');
  const actionText = actionProp === undefined ? '' : initializerOf(actionProp).getText(sf);
  const compProp = prop(specArg, 'compensate');
  let compensate: StepCompensation | undefined;
  if (compProp !== undefined) {
    let body: import('typescript').Node = initializerOf(compProp);
    if (ts.isObjectLiteralExpression(body)) {
      const inner = prop(body, 'local') ?? prop(body, 'action');
      if (inner !== undefined) body = initializerOf(inner);
    }
    const inline = ts.isArrowFunction(body) || ts.isFunctionExpression(body) || ts.isMethodDeclaration(body);
    compensate = { line: lineAt(compProp), onlyLogs: inline && onlyLogs(ts, sf, body) };
  }
  const retryProp = prop(specArg, 'retry');
  let maxAttempts: SagaStep['maxAttempts'];
  if (retryProp !== undefined) {
    const retry = initializerOf(retryProp);
    const attempts = ts.isObjectLiteralExpression(retry) ? prop(retry, 'maxAttempts') : undefined;
    const value = attempts === undefined ? undefined : initializerOf(attempts);
    maxAttempts =
      value !== undefined && ts.isNumericLiteral(value)
        ? Number(value.text)
        : ts.isObjectLiteralExpression(retry) && attempts === undefined
          ? undefined
          : 'dynamic';
  }
  const calls = [...new Set([...actionText.matchAll(CALLED_SERVICE)].map((m) => m[1]!))];
  return {
    saga,
    name,
    kind,
    file: path,
    line: lineAt(call.arguments[0]!),
    actionText,
    compensate,
    maxAttempts,
    calls,
  };
}

/** True when every call in `node` is a logging call (or there is no call at all). */
function onlyLogs(
  ts: TypeScriptModule,
  sf: import('typescript').SourceFile,
  node: import('typescript').Node,
): boolean {
  let ok = true;
  const visit = (n: import('typescript').Node): void => {
    if (!ok) return;
    if (ts.isCallExpression(n) && !LOGGING.test(n.expression.getText(sf).replace(/\s+/g, ''))) ok = false;
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken) ok = false;
    ts.forEachChild(n, visit);
  };
  ts.forEachChild(node, visit);
  return ok;
}
