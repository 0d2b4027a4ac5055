import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../helpers/services.ts';

/**
 * Migrations expand first: during a rolling upgrade the previous release's API, bridge and
 * workers run against the migrated schema, so a migration's Up part may add (tables, nullable
 * columns, columns with a default, indexes, functions, triggers) but not take away or change
 * what the previous release reads and writes. A contract step (a drop, a rename, a type change,
 * a new NOT NULL without a default) comes in a later release, once no process of the release that
 * used the old shape runs, and says so: a line `-- contract: <what no running release uses any more>`.
 */
const dir = path.join(repoRoot, 'src/db/migrations');

/** What only a contract step may do, with why the previous release would break. */
const contracting: [RegExp, string][] = [
  [/\bDROP\s+(TABLE|COLUMN|VIEW|TYPE|FUNCTION|TRIGGER)\b/i, 'drops what the previous release may use'],
  [/\bRENAME\b/i, 'renames what the previous release names'],
  [/\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b/i, "changes a column's type"],
  [/\bSET\s+NOT\s+NULL\b/i, "makes a column NOT NULL that the previous release's inserts may leave empty"],
  [
    /\bADD\s+COLUMN\b(?:(?!\bDEFAULT\b)[^;,])*\bNOT\s+NULL\b(?:(?!\bDEFAULT\b)[^;,])*[;,]/i,
    'adds a NOT NULL column without a default',
  ],
];

/** The problems of one migration's text, and whether it declares itself a contract step. */
function expandProblems(sql: string): { problems: string[]; contract: boolean } {
  const up = sql.split(/^--\s*Down Migration/im)[0]!;
  const code = up.replace(/--.*$/gm, '');
  const problems = contracting.filter(([re]) => re.test(code)).map(([, why]) => why);
  return { problems, contract: /^--\s*contract:\s*\S/im.test(up) };
}

it('every Up migration only adds, unless it is a declared contract step', async () => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  expect(files.length).toBeGreaterThan(10);
  const refused: string[] = [];
  for (const f of files) {
    const { problems, contract } = expandProblems(await readFile(path.join(dir, f), 'utf8'));
    if (problems.length && !contract) refused.push(`${f}: ${problems.join('; ')}`);
  }
  expect(refused).toEqual([]);
});

it('refuses what would break the running release (negative controls), and takes what only adds', () => {
  const up = (s: string) => `-- Up Migration\n${s}\n-- Down Migration\nDROP TABLE x;\n`;
  expect(expandProblems(up('ALTER TABLE medias DROP COLUMN title;')).problems).toHaveLength(1);
  expect(expandProblems(up('ALTER TABLE medias RENAME COLUMN title TO name;')).problems).toHaveLength(1);
  expect(expandProblems(up('ALTER TABLE medias ALTER COLUMN title TYPE varchar(10);')).problems).toHaveLength(1);
  expect(expandProblems(up('ALTER TABLE medias ALTER COLUMN title SET NOT NULL;')).problems).toHaveLength(1);
  expect(expandProblems(up('ALTER TABLE medias ADD COLUMN region text NOT NULL;')).problems).toHaveLength(1);
  expect(expandProblems(up("ALTER TABLE medias ADD COLUMN region text NOT NULL DEFAULT 'eu';")).problems).toEqual([]);
  expect(
    expandProblems(up('ALTER TABLE medias ADD COLUMN region text;\nCREATE INDEX a ON medias (region);')).problems,
  ).toEqual([]);
  // The Down part and comments are not the Up's; a declared contract step passes.
  expect(expandProblems(up('-- we used to DROP TABLE here\nCREATE TABLE y (id int);')).problems).toEqual([]);
  expect(
    expandProblems(up('-- contract: no release since 0.3 reads medias.legacy\nALTER TABLE medias DROP COLUMN legacy;'))
      .contract,
  ).toBe(true);
});
