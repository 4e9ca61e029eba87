/** Small shared pieces: labelled fields, the error banner, a status line. */
import type { ComponentChildren } from 'preact';
import { errorText } from './format.js';

export function Field(props: { label: string; id: string; error?: string | null; hint?: string; children: ComponentChildren }) {
  return (
    <div class={`field${props.error ? ' has-error' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small id={`${props.id}-hint`}>{props.hint}</small>}
      {props.error && (
        <small class="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="banner error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function Notice({ text }: { text: string | null }) {
  return (
    <p class="banner notice" role="status" aria-live="polite">
      {text ?? ''}
    </p>
  );
}
