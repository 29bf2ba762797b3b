// A VolumeServer gRPC service on 127.0.0.1 for adapter tests: every method answers an empty message
// unless `overrides` gives it a handler.
import * as grpc from "@grpc/grpc-js";
import { addService, type ServiceImpl } from "../../../src/grpc/adapter.js";
import { VolumeServer } from "../../../src/gen/volume_server_pb.js";

export async function startVolumeServerStub(overrides: object): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  const unused = Object.fromEntries(VolumeServer.methods.map((m) => [m.localName, async () => ({})] as const));
  addService(server, VolumeServer, { ...unused, ...overrides } as unknown as ServiceImpl<typeof VolumeServer>);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err === null ? resolve(p) : reject(err),
    ),
  );
  return { server, port };
}
