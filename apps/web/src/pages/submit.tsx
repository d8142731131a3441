import { useRef, useState, type DragEvent, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { call } from '../api/client';
import { keys } from '../api/queries';
import type { UploadResult } from '../api/types';
import type { PriorityName } from '@spm/db/vocabulary';
import { useSession } from '../auth/session';
import { PrioritySelect } from '../components/priority';
import { ErrorMessage } from '../components/feedback';
import { bytes, count } from '../lib/format';
import { useTitle } from '../lib/use-title';

/**
 * The lockfiles the API accepts (told apart by their content, whatever the file is called), by the
 * `lockfile_format` the API reports. One list: shown to the person, and what a request page calls them.
 */
export const ACCEPTED_LOCKFILES = [
  { format: 'npm', name: 'package-lock.json', note: 'v1, v2 or v3, or npm-shrinkwrap.json' },
  { format: 'yarn-classic', name: 'yarn.lock', note: 'Yarn 1' },
  { format: 'yarn-berry', name: 'yarn.lock', note: 'Yarn 2 and later' },
  { format: 'pnpm', name: 'pnpm-lock.yaml', note: '6.x or 9.x' },
] as const;

/** "yarn.lock (Yarn 1), lockfile version 1". */
export function describeLockfile(format: string, version: number): string {
  const f = ACCEPTED_LOCKFILES.find((l) => l.format === format);
  return f ? `${f.name} (${f.format === 'npm' ? 'npm' : f.note}), version ${version}` : `${format}, version ${version}`;
}

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
  const [priority, setPriority] = useState<PriorityName>('normal');
  const { user } = useSession();

  const upload = useMutation({
    mutationFn: async () => {
      const form = new FormData();
      if (appName.trim()) form.set('application_name', appName.trim());
      if (appVersion.trim()) form.set('application_version', appVersion.trim());
      form.set('file', file!, file!.name);
      return call<UploadResult>(`/api/packages/upload?priority=${priority}`, { method: 'POST', body: form });
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
            accept=".json,.lock,.yaml,.yml,application/json,application/yaml,text/yaml,text/plain"
            aria-describedby="lockfile-formats"
            onChange={(e) => choose(e.target.files?.[0])}
          />
          <p id="lockfile-formats" className="muted small">
            Accepted:{' '}
            {ACCEPTED_LOCKFILES.map((f, i) => (
              <span key={f.format}>
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
        <div className="field">
          <label htmlFor="priority">Priority</label>
          <PrioritySelect id="priority" value={priority} role={user?.role} onChange={setPriority} />
          <p className="muted small">Urgent and high are for approvers and admins; low lets others go first.</p>
        </div>
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
