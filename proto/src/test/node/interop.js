// Independent gRPC peer for the interop tests, built on grpc-js.
//   node interop.js client <socket>   calls Identity.GetPluginInfo and Node.NodeGetInfo, prints JSON results,
//                                      then calls Node.NodeStageVolume with an empty request and prints its error.
//   node interop.js server <socket>   serves Identity and Node; NodeStageVolume fails with NOT_FOUND.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const protoDir = path.resolve(__dirname, '../../main/proto');
const def = loader.loadSync(path.join(protoDir, 'csi.proto'), {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoDir],
});
const csi = grpc.loadPackageDefinition(def).csi.v1;
const [mode, socket] = process.argv.slice(2);
const address = 'unix://' + socket;

function unary(client, method, req) {
  return new Promise((resolve) => {
    client[method](req, { deadline: Date.now() + 5000 }, (err, res) => resolve(err ? { code: err.code, details: err.details } : { ok: res }));
  });
}

async function runClient() {
  const identity = new csi.Identity(address, grpc.credentials.createInsecure());
  const node = new csi.Node(address, grpc.credentials.createInsecure());
  const out = {
    info: await unary(identity, 'GetPluginInfo', {}),
    nodeInfo: await unary(node, 'NodeGetInfo', {}),
    stageError: await unary(node, 'NodeStageVolume', {}),
  };
  console.log(JSON.stringify(out));
  identity.close();
  node.close();
}

function runServer() {
  const server = new grpc.Server();
  server.addService(csi.Identity.service, {
    GetPluginInfo: (call, cb) => cb(null, { name: 'grpcjs.example.com', vendor_version: '9.9.9', manifest: { stack: 'grpc-js' } }),
    GetPluginCapabilities: (call, cb) => cb(null, { capabilities: [] }),
    Probe: (call, cb) => cb(null, { ready: { value: true } }),
  });
  server.addService(csi.Node.service, {
    NodeGetInfo: (call, cb) => cb(null, { node_id: 'js-node', max_volumes_per_node: 7 }),
    NodeStageVolume: (call, cb) => cb({ code: grpc.status.NOT_FOUND, details: 'volume ' + call.request.volume_id + ' is unknown to grpc-js' }),
    NodeGetCapabilities: (call, cb) => cb(null, { capabilities: [] }),
  });
  server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) { console.error(err.message); process.exit(1); }
    console.log('listening');
  });
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

if (mode === 'client') runClient().catch((e) => { console.error(e); process.exit(1); });
else if (mode === 'server') runServer();
else { console.error('usage: interop.js client|server <socket>'); process.exit(2); }
