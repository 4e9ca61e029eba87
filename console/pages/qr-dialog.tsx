/** QR preview (fetched with the key, shown from a blob: URL) and download as PNG or SVG in a chosen size. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { download } from '../format.js';
import type { Link } from '../types.js';
import { ErrorBanner, Field } from '../ui.js';

export function QrDialog({ link, onClose }: { link: Link; onClose(): void }) {
  const { api } = useSession();
  const ref = useRef<HTMLDialogElement>(null);
  const [format, setFormat] = useState<'png' | 'svg'>('png');
  const [size, setSize] = useState(512);
  const [src, setSrc] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    ref.current?.showModal();
  }, []);
  useEffect(() => {
    let url: string | null = null;
    api.blob(`/v1/links/${link.id}/qr`, { format, size }).then(
      (b) => {
        url = URL.createObjectURL(b);
        setSrc(url);
        setError(null);
      },
      setError,
    );
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [format, size]);

  const save = async () => {
    try {
      download(await api.blob(`/v1/links/${link.id}/qr`, { format, size }), `${link.path}-${size}.${format}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="qr-title" class="qr">
      <h2 id="qr-title">QR code · {link.short_url}</h2>
      <div class="qr-body">
        {src && <img src={src} alt={`QR code for ${link.short_url}`} width={256} height={256} />}
        <div>
          <Field label="Format" id="qr-format">
            <select id="qr-format" value={format} onChange={(e) => setFormat(e.currentTarget.value as 'png' | 'svg')}>
              <option value="png">PNG</option>
              <option value="svg">SVG</option>
            </select>
          </Field>
          <Field label="Size (px)" id="qr-size">
            <select id="qr-size" value={String(size)} onChange={(e) => setSize(Number(e.currentTarget.value))}>
              {[256, 512, 1024, 2048].map((s) => (
                <option value={String(s)}>{s}</option>
              ))}
            </select>
          </Field>
          <ErrorBanner error={error} />
          <div class="row">
            <button type="button" onClick={save}>
              Download
            </button>
            <button type="button" class="secondary" onClick={() => ref.current?.close()}>
              Close
            </button>
          </div>
        </div>
      </div>
    </dialog>
  );
}
