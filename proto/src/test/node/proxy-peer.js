// The independent gRPC stack (grpc-js) on both sides of the fault-injecting proxy in its tests.
//   node proxy-peer.js server <socket>   a CSI driver; prints "listening", then one JSON line per call it finished:
//                                        {"served":METHOD,"volume_id":..,"deadlineMs":..,"code":..}, or
//                                        {"served":..,"volume_id":..,"cancelled":true} when the caller went away
//   node proxy-peer.js client <socket>   reads one JSON call per stdin line, runs each at once (they may overlap) and
//                                        prints one JSON line per answer, on its own clock:
//                                        in  {"id":1,"service":"Node","method":"NodeStageVolume","request":{..},
//                                             "deadlineMs":5000,"metadata":{"x-node":"n1"},"cancelAfterMs":100}
//                                            {"id":2,"raw":"/test.Echo/Echo","base64":"..","deadlineMs":5000}
//                                        out {"id":1,"code":0,"details":"","response":{..},"elapsedMs":12.3,"trailers":{..}}
// The driver's behaviour follows the volume id:
//   status-<code>-*   fails with that gRPC code and a message holding a space, a percent sign and non-ASCII text
//   slow-<ms>-*       answers after <ms> milliseconds; prints {"started":METHOD,"volume_id":..} when the call comes
//   once-*            NodeStageVolume / NodePublishVolume answer OK the first time, ALREADY_EXISTS after (not idempotent)
//   anything else     OK
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const readline = require('readline');

const protoDir = path.resolve(__dirname, '../../main/proto');
const def = loader.loadSync(path.join(protoDir, 'csi.proto'), {
  keepCase: true, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [protoDir],
});
const csi = grpc.loadPackageDefinition(def).csi.v1;
const [mode, socket] = process.argv.slice(2);
const address = 'unix://' + socket;
const raw = (b) => b;
const echoService = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};

function runServer() {
  const seen = new Map();
  const server = new grpc.Server();
  const handle = (method, respond) => (call, cb) => {
    const req = call.request || {};
    const vol = req.volume_id || '';
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() - Date.now() : (deadline === Infinity ? null : deadline - Date.now());
    const finish = (err, res, trailer) => {
      finished = true;
      console.log(JSON.stringify({ served: method, volume_id: vol, deadlineMs, code: err ? err.code : 0 }));
      cb(err, res, trailer);
    };
    if (vol.startsWith('slow-')) console.log(JSON.stringify({ started: method, volume_id: vol }));
    let finished = false;
    call.on('cancelled', () => {
      if (!finished) console.log(JSON.stringify({ served: method, volume_id: vol, deadlineMs, cancelled: true }));
    });
    let m = /^status-(\d+)-/.exec(vol);
    if (m) return finish({ code: Number(m[1]), details: 'driver says: ' + vol + ' is 100% ünknown' });
    m = /^slow-(\d+)-/.exec(vol);
    const delay = m ? Number(m[1]) : 0;
    setTimeout(() => {
      if (call.cancelled) return;
      if (vol.startsWith('once-') && (method === 'NodeStageVolume' || method === 'NodePublishVolume')) {
        const key = method + ' ' + vol;
        const n = (seen.get(key) || 0) + 1;
        seen.set(key, n);
        if (n > 1) return finish({ code: grpc.status.ALREADY_EXISTS, details: vol + ' already done' });
      }
      respond(call, finish);
    }, delay);
  };
  const ok = (res) => (call, finish) => finish(null, res);
  server.addService(csi.Identity.service, {
    GetPluginInfo: handle('GetPluginInfo', ok({ name: 'proxy-peer.example.com', vendor_version: '1.2.3', manifest: { stack: 'grpc-js' } })),
    GetPluginCapabilities: handle('GetPluginCapabilities', ok({ capabilities: [] })),
    Probe: handle('Probe', ok({ ready: { value: true } })),
  });
  server.addService(csi.Node.service, {
    NodeStageVolume: handle('NodeStageVolume', ok({})),
    NodeUnstageVolume: handle('NodeUnstageVolume', ok({})),
    NodePublishVolume: handle('NodePublishVolume', ok({})),
    NodeUnpublishVolume: handle('NodeUnpublishVolume', ok({})),
    NodeGetCapabilities: handle('NodeGetCapabilities', ok({ capabilities: [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }] })),
    NodeGetVolumeStats: handle('NodeGetVolumeStats', ok({ usage: [{ available: '7', total: '9', used: '2', unit: 'BYTES' }] })),
    NodeGetInfo: handle('NodeGetInfo', (call, finish) => {
      const header = new grpc.Metadata();
      header.set('x-driver-header', 'h1');
      call.sendMetadata(header);
      const trailer = new grpc.Metadata();
      trailer.set('x-driver-trailer', 't1');
      const from = call.metadata.get('x-node');
      finish(null, { node_id: 'js-node:' + (from.length ? from[0] : 'none'), max_volumes_per_node: 5 }, trailer);
    }),
  });
  server.addService(echoService, {
    Echo: (call, cb) => {
      console.log(JSON.stringify({ served: '/test.Echo/Echo', volume_id: '', deadlineMs: null, code: 0 }));
      cb(null, Buffer.from(call.request).reverse());
    },
  });
  server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) { console.error(err.message); process.exit(1); }
    console.log('listening');
  });
  process.on('SIGTERM', () => server.forceShutdown() || process.exit(0));
}

function runClient() {
  const clients = {
    Identity: new csi.Identity(address, grpc.credentials.createInsecure()),
    Node: new csi.Node(address, grpc.credentials.createInsecure()),
    Controller: new csi.Controller(address, grpc.credentials.createInsecure()),
  };
  const generic = new grpc.Client(address, grpc.credentials.createInsecure());
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const cmd = JSON.parse(line);
    const metadata = new grpc.Metadata();
    Object.entries(cmd.metadata || {}).forEach(([k, v]) => metadata.set(k, v));
    const options = cmd.deadlineMs ? { deadline: Date.now() + cmd.deadlineMs } : {};
    const started = process.hrtime.bigint();
    let trailers = {};
    let result = null;
    let statusSeen = false;
    // grpc-js reports the answer to the callback and the trailers in a 'status' event: print once both are in.
    const print = () => {
      if (!result || !statusSeen) return;
      const [err, res, elapsedMs] = result;
      const out = { id: cmd.id, code: err ? err.code : 0, details: err ? err.details : '', elapsedMs, trailers };
      if (res !== undefined) out.response = Buffer.isBuffer(res) ? { base64: res.toString('base64') } : res;
      console.log(JSON.stringify(out));
    };
    const done = (err, res) => {
      result = [err, res, Number(process.hrtime.bigint() - started) / 1e6];
      print();
    };
    let call;
    if (cmd.raw) {
      call = generic.makeUnaryRequest(cmd.raw, raw, raw, Buffer.from(cmd.base64, 'base64'), metadata, options, done);
    } else {
      call = clients[cmd.service][cmd.method](cmd.request || {}, metadata, options, done);
    }
    if (cmd.cancelAfterMs) setTimeout(() => call.cancel(), cmd.cancelAfterMs);
    call.on('metadata', (md) => { trailers = Object.assign({}, trailers, md.getMap()); });
    call.on('status', (st) => {
      trailers = Object.assign({}, trailers, st.metadata.getMap());
      statusSeen = true;
      print();
    });
  });
  lines.on('close', () => setTimeout(() => process.exit(0), 100));
}

if (mode === 'client') runClient();
else if (mode === 'server') runServer();
else { console.error('usage: proxy-peer.js client|server <socket>'); process.exit(2); }
