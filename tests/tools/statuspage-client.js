// Reads every Statuspage v2 endpoint of a Firebreak status page through the
// npm `statuspage.io` client, as an existing widget or monitor would, and
// prints what it got as one JSON object. Usage: node statuspage-client.js BASE_URL
'use strict';
const { Statuspage } = require('statuspage.io');

async function main() {
  const base = process.argv[2];
  if (!base) throw new Error('usage: node statuspage-client.js BASE_URL');
  // The page id only builds the default statuspage.io URL, which we replace.
  const page = new Statuspage('firebreak');
  page.setApiUrl(base);
  const out = {
    summary: await page.api.getSummary(),
    status: await page.api.getStatus(),
    components: await page.api.getComponents(),
    incidents: await page.api.incidents.getAll(),
    unresolved: await page.api.incidents.getUnresolved(),
    upcoming: await page.api.scheduledMaintenances.getUpcoming(),
    // The client's getAll() and getActive() both request upcoming.json (a bug
    // in the client), so read those two through its own HTTP client.
    maintenances: (await page.apiClient.get('/api/v2/scheduled-maintenances.json')).data,
    active: (await page.apiClient.get('/api/v2/scheduled-maintenances/active.json')).data,
  };
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
