/**
 * Finds the executables a health-check command runs, so the policy pack can compare them with
 * the tools its image declares. Not a full shell parser: it knows what health checks are
 * written with (pipes, `&&`, `||`, `;`, quotes, `$(...)`, env assignments, builtins such as
 * `test` and `exit`), which is what made the original checks call curl and mongosh in images
 * without them.
 */

/**
 * Words that the shell runs itself: they need no binary in the image. `[[` and the keywords
 * are listed so that `if ...; then exit 0; fi` does not read `then` or `fi` as programs.
 */
const SHELL_BUILTINS = new Set([
  "test",
  "[",
  "[[",
  "exit",
  "echo",
  "printf",
  "true",
  "false",
  ":",
  "cd",
  "export",
  "set",
  "unset",
  "read",
  "return",
  "fi",
  "done",
  "esac",
  "}",
]);

/** Words that run the word after them, so the command is the next word, not this one. */
const COMMAND_PREFIXES = new Set([
  "exec",
  "command",
  "!",
  "if",
  "then",
  "else",
  "elif",
  "while",
  "until",
  "do",
  "{",
]);

/** Shells whose `-c <line>` argument is itself a shell line whose commands must be checked. */
const SHELLS = new Set(["sh", "bash", "dash", "ash"]);

const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
/** A redirection such as `>/dev/null`, `2>&1` or a bare `>` whose target is the next word. */
const REDIRECTION = /^\d*(?:>>?|<)(?:&\d*)?(.*)$/;

/** One shell line read into commands of words, and the lines its command substitutions run. */
interface ShellLine {
  readonly commands: readonly string[][];
  /** The insides of `$(...)` and backticks: the shell runs them too, even inside double quotes. */
  readonly substitutions: readonly string[];
}

/** The end of the `$(...)` that opens at `open` (the index of its `(`): the matching `)`. */
function closingParen(line: string, open: number): number {
  let depth = 0;
  let quote: "'" | '"' | undefined;
  for (let i = open; i < line.length; i++) {
    const char = line[i];
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else if (char === "\\" && quote === '"') i++;
    } else if (char === "'" || char === '"') quote = char;
    else if (char === "\\") i++;
    else if (char === "(") depth++;
    else if (char === ")" && --depth === 0) return i;
  }
  return line.length;
}

/** Splits one shell line into commands (on |, ||, &&, ; and newlines) of words, honouring quotes. */
function readShellLine(line: string): ShellLine {
  const commands: string[][] = [];
  const substitutions: string[] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  const endWord = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    // Single quotes are literal; everywhere else `$(` and backticks run a command.
    if (quote !== "'" && char === "$" && line[i + 1] === "(") {
      const close = closingParen(line, i + 1);
      substitutions.push(line.slice(i + 2, close));
      word += line.slice(i, close + 1);
      inWord = true;
      i = close;
      continue;
    }
    if (quote !== "'" && char === "`") {
      const close = line.indexOf("`", i + 1);
      const end = close < 0 ? line.length : close;
      substitutions.push(line.slice(i + 1, end));
      word += line.slice(i, end + 1);
      inWord = true;
      i = end;
      continue;
    }
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else if (char === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += char;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (char === "|" || char === ";" || char === "\n") {
      if (char === "|" && line[i + 1] === "|") i++;
      endCommand();
    } else if (char === "&" && line[i + 1] === "&") {
      i++;
      endCommand();
    } else if (char === " " || char === "\t") {
      endWord();
    } else {
      word += char;
      inWord = true;
    }
  }
  endCommand();
  return { commands, substitutions };
}

/** The program a command's words run, after env assignments, redirections and prefixes; none for builtins. */
function commandProgram(words: readonly string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (ENV_ASSIGNMENT.test(word) || COMMAND_PREFIXES.has(word)) continue;
    const redirection = REDIRECTION.exec(word);
    if (redirection !== null) {
      if (redirection[1] === "") i++;
      continue;
    }
    return SHELL_BUILTINS.has(word) ? undefined : word;
  }
  return undefined;
}

/** The programs a shell line runs, in order, each once. */
export function shellLinePrograms(line: string): string[] {
  const { commands, substitutions } = readShellLine(line);
  const programs: string[] = [];
  for (const words of commands) {
    const program = commandProgram(words);
    if (program === undefined) continue;
    programs.push(program);
    // `sh -c "curl ..."` runs curl too; without this a shell would hide it.
    const dashC = words.indexOf("-c", words.indexOf(program));
    if (SHELLS.has(basename(program)) && dashC >= 0 && dashC + 1 < words.length) {
      programs.push(...shellLinePrograms(words[dashC + 1]));
    }
  }
  for (const substitution of substitutions) programs.push(...shellLinePrograms(substitution));
  return [...new Set(programs)];
}

/**
 * The programs an ECS health-check command runs: for `CMD` its first argument (and, for
 * `sh -c`, the programs of that line; for aura-probe, the programs of the check it wraps after
 * `--`); for `CMD-SHELL` every program of its shell line.
 * Empty when the command has another shape (the settings policy reports that).
 */
export function healthCheckPrograms(command: readonly string[]): string[] {
  const [kind, ...rest] = command;
  if (kind === "CMD-SHELL") return rest.length === 1 ? shellLinePrograms(rest[0]) : [];
  if (kind !== "CMD" || rest.length === 0 || rest[0] === "") return [];
  const [program, ...args] = rest;
  const programs = [program];
  if (SHELLS.has(basename(program)) && args[0] === "-c" && args[1] !== undefined) {
    programs.push(...shellLinePrograms(args[1]));
  }
  const wrapped = args.indexOf("--");
  if (basename(program) === "aura-probe" && wrapped >= 0) {
    programs.push(...healthCheckPrograms(["CMD", ...args.slice(wrapped + 1)]));
  }
  return [...new Set(programs)];
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Whether `program` is one of `declared`: the same string, or the same name where one side is a
 * bare name looked up on PATH. Two different full paths are different files, so they never match.
 */
export function isDeclared(program: string, declared: readonly string[]): boolean {
  return declared.some(
    (tool) =>
      tool === program ||
      (!tool.includes("/") && basename(program) === tool) ||
      (!program.includes("/") && basename(tool) === program),
  );
}
