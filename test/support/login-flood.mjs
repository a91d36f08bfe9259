// A child process that floods an MQTT port with wrong-token CONNECTs from many loopback addresses, so the flood's
// own CPU is not charged to the test process that measures acknowledgement latency. Messages from the parent:
// {start: {port, deviceIds, perTick, addresses}}, 'pause' (no new CONNECTs until the next start) and 'stop'; it answers
// {codes: [[returnCode, count], …]} on 'stop', counted over every start.
import net from 'node:net';
import mqttPacket from 'mqtt-packet';

const codes = new Map();
let timer;
let n = 0;

function wrongLogin(port, localAddress, deviceId) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let done = false;
  const finish = (code) => {
    if (done) return;
    done = true;
    socket.destroy();
    codes.set(code, (codes.get(code) ?? 0) + 1);
  };
  parser.on('packet', (packet) => finish(packet.cmd === 'connack' ? packet.returnCode : -1));
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.on('error', () => finish(-1));
  socket.on('close', () => finish(-1));
  socket.setTimeout(10_000, () => finish(-1));
  socket.on('connect', () => {
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `intruder-${localAddress}`, keepalive: 30, username: deviceId, password: Buffer.from(`wrong-${Math.random()}`) }));
  });
}

process.on('message', (m) => {
  if (m === 'pause') {
    clearInterval(timer);
    return;
  }
  if (m === 'stop') {
    clearInterval(timer);
    setTimeout(() => process.send({ codes: [...codes] }, () => process.exit(0)), 1500);
    return;
  }
  const { port, deviceIds, perTick, addresses } = m.start;
  timer = setInterval(() => {
    for (let k = 0; k < perTick; k++) {
      const a = n++ % addresses;
      wrongLogin(port, `127.1.${Math.floor(a / 250)}.${(a % 250) + 1}`, deviceIds[a % deviceIds.length]);
    }
  }, 10);
});
