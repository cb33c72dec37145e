// Which documents StepLens handles. vscode-free: the manifest test compares it with the
// contributed languages and activation events.

export const LANGUAGES = ["markdown", "latex", "tex", "plaintext", "steps"] as const;
export const SCHEMES = ["file", "untitled"] as const;

export function isStepLensLanguage(languageId: string): boolean {
  return (LANGUAGES as readonly string[]).includes(languageId);
}

export const documentSelector = LANGUAGES.flatMap((language) => SCHEMES.map((scheme) => ({ language, scheme })));
