import { useRef, useState, type DragEvent, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { call } from '../api/client';
import { keys } from '../api/queries';
import type { UploadResult } from '../api/types';
import { ErrorMessage } from '../components/feedback';
import { bytes, count } from '../lib/format';
import { useTitle } from '../lib/use-title';

/**
 * The lockfile formats the API accepts. One list, shown to the person and given to the file chooser;
 * when the API learns a format (yarn.lock, pnpm-lock.yaml), it is added here.
 */
export const ACCEPTED_LOCKFILES = [
  { name: 'package-lock.json', note: 'npm, lockfile v1, v2 or v3' },
  { name: 'npm-shrinkwrap.json', note: 'npm' },
] as const;

export interface SubmittedState {
  submitted: UploadResult;
}

export function SubmitPage() {
  useTitle('Submit a lockfile');
  const navigate = useNavigate();
  const client = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [dragging, setDragging] = useState(false);
  const [appName, setAppName] = useState('');
  const [appVersion, setAppVersion] = useState('');

  const upload = useMutation({
    mutationFn: async () => {
      const form = new FormData();
      if (appName.trim()) form.set('application_name', appName.trim());
      if (appVersion.trim()) form.set('application_version', appVersion.trim());
      form.set('file', file!, file!.name);
      return call<UploadResult>('/api/packages/upload', { method: 'POST', body: form });
    },
    onSuccess: (res) => {
      void client.invalidateQueries({ queryKey: keys.requests });
      navigate(`/requests/${res.request_id}`, { state: { submitted: res } satisfies SubmittedState });
    },
  });

  const choose = (f: File | undefined | null) => {
    if (!f) return;
    setFile(f);
    upload.reset();
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    choose(e.dataTransfer.files[0]);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (file) upload.mutate();
  };

  return (
    <>
      <h1>Submit a lockfile</h1>
      <p className="lead">
        Every package in the lockfile is checked: licence, download with integrity verification, security scan. Packages
        nobody has vetted yet go to an approver; the ones already approved are ready at once.
      </p>
      <form className="form form--wide" onSubmit={submit}>
        <div
          className={`dropzone${dragging ? ' dropzone--active' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <label htmlFor="lockfile" className="dropzone__label">
            <span className="dropzone__title">Choose a lockfile</span>
            <span className="dropzone__hint">or drop it here</span>
          </label>
          <input
            ref={input}
            id="lockfile"
            name="file"
            type="file"
            accept=".json,application/json"
            aria-describedby="lockfile-formats"
            onChange={(e) => choose(e.target.files?.[0])}
          />
          <p id="lockfile-formats" className="muted small">
            Accepted:{' '}
            {ACCEPTED_LOCKFILES.map((f, i) => (
              <span key={f.name}>
                {i > 0 && ', '}
                <code>{f.name}</code> ({f.note})
              </span>
            ))}
            .
          </p>
          {file && (
            <p className="dropzone__file" role="status">
              Selected: <strong>{file.name}</strong> ({bytes(file.size)})
            </p>
          )}
        </div>
        <fieldset className="fieldset">
          <legend>Application (only when the lockfile does not name it)</legend>
          <div className="field-row">
            <div className="field">
              <label htmlFor="application-name">Application name</label>
              <input
                id="application-name"
                value={appName}
                maxLength={214}
                onChange={(e) => setAppName(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="application-version">Application version</label>
              <input
                id="application-version"
                value={appVersion}
                maxLength={214}
                onChange={(e) => setAppVersion(e.target.value)}
              />
            </div>
          </div>
        </fieldset>
        <ErrorMessage error={upload.error} title="The lockfile was not accepted" />
        <div className="actions">
          <button type="submit" className="button button--primary" disabled={!file || upload.isPending}>
            {upload.isPending ? 'Submitting…' : 'Submit'}
          </button>
        </div>
      </form>
    </>
  );
}

/** "42 packages (40 new, 2 already known)". */
export function describeUpload(u: UploadResult): string {
  return `${count(u.package_count, 'package')} (${u.new_packages.toLocaleString()} new, ${u.existing_packages.toLocaleString()} already known)`;
}
