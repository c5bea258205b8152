// Drives node-influx (npm `influx`) the way applications do: createDatabase, writePoints with a
// retention policy and precision, writeMeasurement with the default rp, ping. Exits non-zero on
// any error. Usage: node write.js HOST PORT TOKEN DATABASE
'use strict';
const Influx = require('influx');

const [, , host, port, token, db] = process.argv;
const influx = new Influx.InfluxDB({
  host,
  port: Number(port),
  database: db,
  username: 'ignored',
  password: token,
  schema: [
    {
      measurement: 'node_cpu',
      fields: {
        usage: Influx.FieldType.FLOAT,
        count: Influx.FieldType.INTEGER,
        up: Influx.FieldType.BOOLEAN,
        note: Influx.FieldType.STRING,
      },
      tags: ['host'],
    },
  ],
});

async function main() {
  const pong = await influx.ping(5000);
  if (!pong[0].online || !pong[0].version) throw new Error('ping failed: ' + JSON.stringify(pong));
  await influx.createDatabase(db);
  const names = await influx.getDatabaseNames();
  if (!names.includes(db)) throw new Error('database not listed: ' + JSON.stringify(names));
  await influx.writePoints(
    [
      { measurement: 'node_cpu', tags: { host: 'a' }, fields: { usage: 0.5, count: 3, up: true, note: 'hello "world"' }, timestamp: new Date(1700000000000) },
      { measurement: 'node_cpu', tags: { host: 'b' }, fields: { usage: 1.25, count: -7, up: false, note: 'x,y z' }, timestamp: new Date(1700000001000) },
    ],
    { retentionPolicy: 'autogen', precision: 's' },
  );
  await influx.writeMeasurement('node_mem', [{ tags: { host: 'a' }, fields: { used: 42 }, timestamp: new Date(1700000002000) }], { precision: 'ms' });
  // A bad point is a 400 that node-influx reports as an error, not a silent success.
  let rejected = false;
  try {
    await influx.writePoints([{ measurement: 'node_cpu', tags: { host: 'c' }, fields: { count: 'not a number' } }]);
  } catch (e) {
    rejected = true;
  }
  if (!rejected) throw new Error('a type conflict was not reported');
  console.log('ok');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
