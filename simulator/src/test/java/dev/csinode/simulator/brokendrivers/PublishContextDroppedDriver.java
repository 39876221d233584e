package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.ControllerPublishVolumeRequest;
import dev.csinode.csi.v1.ControllerPublishVolumeResponse;
import io.vertx.core.Future;
import java.util.function.UnaryOperator;

/**
 * Test double, deliberately broken: attach required, and ControllerPublishVolume attaches but answers without the
 * publish_context its own NodeStageVolume needs to find the attachment, which then refuses the stage
 * (FAILED_PRECONDITION, "not attached"). Breaks {@code attach-required}'s wait-ready and assert-order.
 */
public final class PublishContextDroppedDriver extends RelayedHostpathDriver {
  public PublishContextDroppedDriver() {
    super(0, true, UnaryOperator.identity(), relay -> new RelayedController(relay) {
      @Override
      public Future<ControllerPublishVolumeResponse> controllerPublishVolume(ControllerPublishVolumeRequest request) {
        return super.controllerPublishVolume(request).map(r -> r.toBuilder().clearPublishContext().build());
      }
    });
  }
}
