package dev.csinode.grpc;

import io.netty.handler.flush.FlushConsolidationHandler;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;

/**
 * Netty's {@link FlushConsolidationHandler} on each HTTP connection, of a server or a client: a message written
 * outside a read (a unary gRPC call answered from a worker, a request sent) is written as headers, data and
 * trailers (or end of stream), and Vert.x flushes after each, a writev(2) apiece and a wake-up of the peer apiece.
 * Consolidated, they go out in one flush at the end of the event loop's task; flushes during a read were already
 * deferred to its end by Netty and still are.
 * Vert.x has no option for it: the handler goes into the connection's pipeline through its internal
 * {@link ConnectionBase} (kept in this one class).
 */
final class FlushBatching implements Handler<HttpConnection> {
  static final FlushBatching INSTANCE = new FlushBatching();
  private static final String NAME = "csi-flush-batching";

  private FlushBatching() {}

  @Override
  public void handle(HttpConnection connection) {
    if (connection instanceof ConnectionBase base && base.channel().pipeline().get(NAME) == null) {
      base.channel().pipeline().addFirst(NAME, new FlushConsolidationHandler(
          FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
    }
  }
}
