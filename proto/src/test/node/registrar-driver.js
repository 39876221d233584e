// A CSI driver with its own registrar, both on grpc-js: the independent stack for the registration tests.
//   node registrar-driver.js <registration-dir> <driver-socket> <driver-name> <node-id>
// Serves Identity and Node on <driver-socket>, Registration on <registration-dir>/<driver-name>-reg.sock,
// prints "listening", then one line per NotifyRegistrationStatus ("notified true" / "notified false: <error>").
'use strict';
const path = require('path');
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const protoDir = path.resolve(__dirname, '../../main/proto');
const opts = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoDir] };
const csi = grpc.loadPackageDefinition(loader.loadSync(path.join(protoDir, 'csi.proto'), opts)).csi.v1;
const reg = grpc.loadPackageDefinition(loader.loadSync(path.join(protoDir, 'pluginregistration.proto'), opts)).pluginregistration;
const [regDir, driverSocket, name, nodeId] = process.argv.slice(2);
const regSocket = path.join(regDir, name + '-reg.sock');

const driver = new grpc.Server();
driver.addService(csi.Identity.service, {
  GetPluginInfo: (call, cb) => cb(null, { name, vendor_version: 'js-1' }),
  GetPluginCapabilities: (call, cb) => cb(null, { capabilities: [] }),
  Probe: (call, cb) => cb(null, {}),
});
driver.addService(csi.Node.service, {
  NodeGetInfo: (call, cb) => cb(null, { node_id: nodeId, max_volumes_per_node: 3, accessible_topology: { segments: { rack: 'r9' } } }),
  NodeGetCapabilities: (call, cb) => cb(null, { capabilities: [{ rpc: { type: 'GET_VOLUME_STATS' } }] }),
});
const registrar = new grpc.Server();
registrar.addService(reg.Registration.service, {
  GetInfo: (call, cb) => cb(null, { type: 'CSIPlugin', name, endpoint: driverSocket, supported_versions: ['1.0.0'] }),
  NotifyRegistrationStatus: (call, cb) => {
    console.log(call.request.plugin_registered ? 'notified true' : 'notified false: ' + call.request.error);
    cb(null, {});
  },
});
driver.bindAsync('unix://' + driverSocket, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { console.error(err.message); process.exit(1); }
  try { fs.unlinkSync(regSocket); } catch (e) { /* no stale socket */ }
  registrar.bindAsync('unix://' + regSocket, grpc.ServerCredentials.createInsecure(), (err2) => {
    if (err2) { console.error(err2.message); process.exit(1); }
    console.log('listening');
  });
});
process.on('SIGTERM', () => { try { fs.unlinkSync(regSocket); } catch (e) { /* gone */ } process.exit(0); });
