// `/?page=scan`: the door scanner. Reads QR codes with the camera (html5-qrcode, served from
// /vendor, loaded only here) or takes a typed code, asks the API, and shows the verdict big and
// in words: VALID, ALREADY USED (since when), VOID (why: refunded, failed), INVALID (why), NOT
// YOUR EVENT, with the holder's name and ticket type (so door staff see a VIP at a glance). The next ticket can be scanned
// straight away; the same code is not re-sent while its verdict is showing.

import * as api from '../api.js';
import { h, icon, replace, setTitle } from '../dom.js';
import { relative, time } from '../format.js';
import { pageHeader } from './common.js';

const LIBRARY_URL = '/vendor/html5-qrcode.min.js';
/** The camera sees the same QR many times a second: ignore it this long after its verdict. */
const SAME_CODE_MS = 6_000;
/** A short pause after any verdict, so the next person can step up. */
const ANY_CODE_MS = 1_200;
const HISTORY_LENGTH = 8;

let library = null;

/** Loads the vendored html5-qrcode bundle once (a classic script from this origin). */
function loadLibrary() {
  if (window.__Html5QrcodeLibrary__) return Promise.resolve(window.__Html5QrcodeLibrary__);
  library ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = LIBRARY_URL;
    script.async = true;
    script.addEventListener('load', () => resolve(window.__Html5QrcodeLibrary__));
    script.addEventListener('error', () => {
      library = null;
      script.remove();
      reject(new Error('The camera scanner could not be loaded. Use the code field instead.'));
    });
    document.head.append(script);
  });
  return library;
}

export default async function scanPage({ main, signal }) {
  setTitle('Scan tickets');

  const placeholder = () =>
    h('div', { class: 'reader-placeholder' }, icon('camera'), h('p', { text: 'Camera is off' }), h('p', { class: 'muted', text: 'Start the camera and hold a ticket’s QR code in the frame.' }));
  const reader = h('div', { class: 'reader', id: 'reader' }, placeholder());
  const cameraButton = h('button', { type: 'button', class: 'button button-primary button-large', id: 'camera-toggle' });
  const cameraStatus = h('p', { class: 'camera-status', role: 'status' });
  const result = h('div', { class: 'scan-result scan-idle', id: 'scan-result', role: 'status', 'aria-live': 'assertive', 'aria-atomic': 'true' });
  const nextButton = h('button', { type: 'button', class: 'button button-secondary button-block', id: 'next-scan' }, icon('scan'), 'Ready for next ticket');
  const history = h('ol', { class: 'scan-history', 'aria-label': 'Recent scans' });
  const codeInput = h('input', { type: 'text', id: 'manual-code', name: 'code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', inputmode: 'text', placeholder: 'T1.…', 'aria-describedby': 'manual-code-hint' });
  const manual = h(
    'form',
    { class: 'manual-form', 'aria-label': 'Manual entry' },
    h('label', { for: 'manual-code', text: 'Ticket code' }),
    h('p', { class: 'field-hint', id: 'manual-code-hint', text: 'If the camera cannot read a QR code, paste the ticket code here (it starts with T1.).' }),
    h('div', { class: 'input-with-button' }, codeInput, h('button', { type: 'submit', class: 'button button-primary', text: 'Check ticket' })),
  );

  let scanner = null;
  let starting = false;
  let busy = false;
  let lastCode = null;
  let lastAt = 0;

  const showIdle = () => {
    result.className = 'scan-result scan-idle';
    replace(result, h('div', { class: 'scan-icon' }, icon('scan')), h('p', { class: 'scan-verdict', text: 'Ready to scan' }), h('p', { class: 'scan-detail', text: 'Scan a QR code or type a ticket code.' }));
  };
  showIdle();

  const check = async (raw, source) => {
    const code = source === 'manual' ? raw.replace(/\s+/g, '').toUpperCase() : raw.trim();
    if (!code || busy) return;
    const since = Date.now() - lastAt;
    if (source === 'camera' && (since < ANY_CODE_MS || (code === lastCode && since < SAME_CODE_MS))) return;
    busy = true;
    let checked = false;
    result.className = 'scan-result scan-checking';
    replace(result, h('div', { class: 'scan-icon' }, h('span', { class: 'spinner spinner-large', 'aria-hidden': 'true' })), h('p', { class: 'scan-verdict', text: 'Checking…' }));
    try {
      const verdict = await api.post('/scan', { code }, { signal });
      if (signal.aborted) return;
      showVerdict(result, verdict);
      addHistory(history, verdict);
      feedback(verdict.result);
      if (source === 'manual') codeInput.value = '';
      checked = true;
    } catch (error) {
      if (signal.aborted || error?.name === 'AbortError' || error?.name === 'SessionExpired') return;
      result.className = 'scan-result scan-error';
      replace(result, h('div', { class: 'scan-icon' }, icon('alert')), h('p', { class: 'scan-verdict', text: 'Not checked' }), h('p', { class: 'scan-detail', text: `${error.message} Try again.` }));
    } finally {
      busy = false;
      // A code that got no verdict (the network or the server failed) is tried again as soon
      // as the camera sees it, rather than left unchecked until the door is ready for the next.
      lastCode = checked ? code : null;
      lastAt = Date.now();
    }
  };

  manual.addEventListener('submit', (submit) => {
    submit.preventDefault();
    if (!codeInput.value.trim()) {
      codeInput.focus();
      return;
    }
    check(codeInput.value, 'manual');
  });

  nextButton.addEventListener('click', () => {
    lastCode = null;
    lastAt = 0;
    showIdle();
    (scanner ? cameraButton : codeInput).focus();
  });

  const setCameraButton = () => {
    cameraButton.replaceChildren(icon('camera'), scanner ? 'Stop camera' : 'Start camera');
    cameraButton.disabled = starting;
  };
  setCameraButton();

  const stopCamera = async () => {
    const running = scanner;
    scanner = null;
    if (running) {
      try {
        await running.stop();
      } catch {
        // Already stopped.
      }
      try {
        running.clear();
      } catch {
        // Nothing to clear.
      }
    }
    replace(reader, placeholder());
    reader.classList.remove('reader-live');
    setCameraButton();
  };

  const startCamera = async () => {
    starting = true;
    setCameraButton();
    cameraStatus.textContent = 'Starting the camera…';
    try {
      const lib = await loadLibrary();
      if (signal.aborted) return;
      const instance = new lib.Html5Qrcode('reader', { verbose: false, formatsToSupport: [lib.Html5QrcodeSupportedFormats.QR_CODE] });
      await instance.start(
        { facingMode: 'environment' },
        {
          fps: 12,
          qrbox: (width, height) => {
            const side = Math.max(160, Math.floor(Math.min(width, height) * 0.8));
            return { width: side, height: side };
          },
        },
        (text) => check(text, 'camera'),
        () => {},
      );
      if (signal.aborted) {
        await instance.stop().catch(() => {});
        return;
      }
      scanner = instance;
      reader.classList.add('reader-live');
      cameraStatus.textContent = 'Camera on — hold the QR code inside the frame.';
    } catch (error) {
      cameraStatus.textContent = cameraProblem(error);
      replace(reader, placeholder());
    } finally {
      starting = false;
      setCameraButton();
    }
  };

  cameraButton.addEventListener('click', () => (scanner ? stopCamera().then(() => (cameraStatus.textContent = 'Camera off.')) : startCamera()));
  signal.addEventListener('abort', () => {
    stopCamera();
  });

  replace(
    main,
    pageHeader('Scan tickets', { lead: 'Each ticket admits once. Results show here the moment a code is read.' }),
    h(
      'div',
      { class: 'scanner-layout' },
      h('section', { class: 'panel camera-panel', 'aria-label': 'Camera' }, reader, h('div', { class: 'camera-controls' }, cameraButton), cameraStatus),
      h(
        'section',
        { class: 'result-column', 'aria-label': 'Result' },
        result,
        nextButton,
        h('div', { class: 'panel' }, manual),
        h('div', { class: 'panel history-panel' }, h('h2', { text: 'Recent scans' }), history),
      ),
    ),
  );
  if (!navigator.mediaDevices?.getUserMedia) {
    cameraButton.disabled = true;
    cameraStatus.textContent = 'This browser cannot use a camera here (it needs HTTPS). Type ticket codes instead.';
  }
}

const VERDICTS = {
  VALID: { label: 'VALID', tone: 'valid', icon: 'check' },
  USED: { label: 'ALREADY USED', tone: 'used', icon: 'alert' },
  VOID: { label: 'VOID', tone: 'invalid', icon: 'cross' },
  INVALID: { label: 'INVALID', tone: 'invalid', icon: 'cross' },
  NOT_YOUR_EVENT: { label: 'NOT YOUR EVENT', tone: 'invalid', icon: 'cross' },
};

function showVerdict(box, verdict) {
  const kind = VERDICTS[verdict.result] ?? { label: verdict.result, tone: 'invalid', icon: 'cross' };
  box.className = `scan-result scan-${kind.tone}`;
  box.dataset.result = verdict.result;
  const details = [];
  if (verdict.result === 'VALID') details.push(h('p', { class: 'scan-detail', text: `Admit one${verdict.eventTitle ? ` · ${verdict.eventTitle}` : ''}` }));
  if (verdict.result === 'USED') {
    details.push(h('p', { class: 'scan-detail scan-when', text: verdict.usedAt ? `First scanned at ${time(verdict.usedAt)} (${relative(verdict.usedAt)})` : 'Scanned before' }));
    if (verdict.eventTitle) details.push(h('p', { class: 'scan-detail', text: verdict.eventTitle }));
  }
  if (verdict.result === 'VOID') details.push(h('p', { class: 'scan-detail', text: `Do not admit: ${verdict.reason || 'the ticket was voided'}.` }));
  if (verdict.result === 'INVALID') details.push(h('p', { class: 'scan-detail', text: `Do not admit: ${verdict.reason || 'not a valid ticket'}.` }));
  if (verdict.result === 'NOT_YOUR_EVENT') details.push(h('p', { class: 'scan-detail', text: 'A real ticket, but for an event you do not organize. Nothing was checked in.' }));
  replace(
    box,
    h('div', { class: 'scan-icon' }, icon(kind.icon)),
    h('p', { class: 'scan-verdict', text: kind.label }),
    verdict.attendeeName ? h('p', { class: 'scan-name', text: verdict.attendeeName }) : null,
    verdict.ticketType ? h('p', { class: 'scan-type', text: verdict.ticketType }) : null,
    details,
  );
}

function addHistory(list, verdict) {
  const kind = VERDICTS[verdict.result] ?? { label: verdict.result, tone: 'invalid' };
  list.prepend(
    h(
      'li',
      { class: `history-${kind.tone}` },
      h('span', { class: ['badge', `badge-${kind.tone}`], text: kind.label }),
      h('span', { class: 'history-name', text: [verdict.attendeeName || verdict.reason, verdict.ticketType].filter(Boolean).join(' · ') }),
      h('time', { class: 'muted', text: time(new Date().toISOString()) }),
    ),
  );
  while (list.children.length > HISTORY_LENGTH) list.lastChild.remove();
}

/** A vibration and a tone, so the door staff notice without looking (where supported). */
function feedback(result) {
  try {
    navigator.vibrate?.(result === 'VALID' ? 120 : [80, 60, 80, 60, 80]);
  } catch {
    // Not supported.
  }
  try {
    const context = (feedback.context ??= new AudioContext());
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = result === 'VALID' ? 880 : 220;
    oscillator.type = result === 'VALID' ? 'sine' : 'square';
    gain.gain.value = 0.08;
    oscillator.connect(gain).connect(context.destination);
    oscillator.start();
    oscillator.stop(context.currentTime + (result === 'VALID' ? 0.15 : 0.4));
  } catch {
    // No audio.
  }
}

function cameraProblem(error) {
  const text = String(error?.message ?? error);
  if (/NotAllowed|Permission/i.test(text)) return 'Camera permission was refused. Allow the camera in the browser’s settings, or type ticket codes below.';
  if (/NotFound|Requested device not found|no camera/i.test(text)) return 'No camera was found. Type ticket codes below.';
  if (/NotReadable|in use/i.test(text)) return 'The camera is in use by another app. Close it and try again.';
  return `The camera could not start (${text}). Type ticket codes below.`;
}
