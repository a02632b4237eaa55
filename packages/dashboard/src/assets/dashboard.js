// Live updates for the Berth dashboard: one server-sent event stream for the
// queues a page shows. It changes text and attributes only (never HTML), so a
// stored string cannot become markup here either.
(() => {
  const section = document.querySelector('[data-live-queues]');
  if (section === null || typeof EventSource === 'undefined') return;
  const queues = section
    .getAttribute('data-live-queues')
    .split('\n')
    .filter((name) => name !== '');
  if (queues.length === 0) return;
  const base = document.body.getAttribute('data-base') || '';
  const query = queues.map((name) => `queue=${encodeURIComponent(name)}`).join('&');
  const source = new EventSource(`${base}/events?${query}`);
  const flash = (element) => {
    element.classList.remove('changed');
    void element.offsetWidth;
    element.classList.add('changed');
  };
  source.addEventListener('stats', (message) => {
    const { queue, stats } = JSON.parse(message.data);
    for (const cell of document.querySelectorAll('.count[data-queue][data-state]')) {
      if (cell.getAttribute('data-queue') !== queue) continue;
      const value = String(stats[cell.getAttribute('data-state')]);
      const target = cell.querySelector('a') || cell;
      if (target.textContent !== value) {
        target.textContent = value;
        flash(cell);
      }
    }
  });
  source.addEventListener('job', (message) => {
    const event = JSON.parse(message.data);
    const holders = document.querySelectorAll('[data-job]');
    for (const holder of holders) {
      if (holder.getAttribute('data-job') !== event.jobId) continue;
      for (const state of holder.querySelectorAll('.state')) {
        state.textContent = event.state;
        state.setAttribute('data-state', event.state);
        flash(state);
      }
    }
    document.body.setAttribute('data-last-event', `${event.type}:${event.jobId}`);
  });
  source.addEventListener('open', () => document.body.setAttribute('data-live', 'on'));
  source.addEventListener('error', () => document.body.setAttribute('data-live', 'reconnecting'));
})();
