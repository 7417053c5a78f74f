/** The field a destructive action waits for: typing a word is a decision that a stray click is not. */
import type { ReactNode } from "react";

export function TypedConfirmation(props: {
  word: string;
  /** What typing the word agrees to, after "Type WORD". */
  purpose: ReactNode;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <label className="field">
      <span>
        Type <strong>{props.word}</strong> {props.purpose}
      </span>
      <input
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        autoComplete="off"
        spellCheck={false}
      />
    </label>
  );
}
