package dev.csinode.simulator.proxy;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.csinode.csi.v1.CsiProto;
import io.vertx.core.buffer.Buffer;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The CSI methods as the proto declares them (every service in csi.proto), and what a proxied request names: its
 * volume and kubelet paths, read from a copy of the request bytes by the method's request type.
 */
final class CsiMethods {
  static final String STAGE = "NodeStageVolume";
  static final String PUBLISH = "NodePublishVolume";
  /** Full gRPC method name ("csi.v1.Node/NodeStageVolume") to its declaration. */
  private static final Map<String, MethodDescriptor> BY_FULL_NAME = new TreeMap<>();
  private static final Map<String, MethodDescriptor> BY_SHORT_NAME = new TreeMap<>();

  static {
    for (ServiceDescriptor s : CsiProto.getDescriptor().getServices()) {
      for (MethodDescriptor m : s.getMethods()) {
        BY_FULL_NAME.put(s.getFullName() + "/" + m.getName(), m);
        BY_SHORT_NAME.put(m.getName(), m);
      }
    }
  }

  private CsiMethods() {}

  static boolean isMethod(String shortName) {
    return BY_SHORT_NAME.containsKey(shortName);
  }

  static Set<String> shortNames() {
    return BY_SHORT_NAME.keySet();
  }

  /**
   * What a call names.
   *
   * @param method   the CSI method's short name, or the full gRPC name of a method CSI does not declare
   * @param csi      whether CSI declares the method (only those are matched by a rule's method name)
   */
  record Call(String method, boolean csi, String volumeId, String stagingPath, String targetPath) {}

  /** Reads the request's fields; an unknown method or bytes that do not parse name nothing but the method. */
  static Call describe(String fullMethodName, Buffer request) {
    MethodDescriptor m = BY_FULL_NAME.get(fullMethodName);
    if (m == null) {
      return new Call(fullMethodName, false, null, null, null);
    }
    if (request == null) {
      return new Call(m.getName(), true, null, null, null);
    }
    Descriptor type = m.getInputType();
    try {
      DynamicMessage msg = DynamicMessage.parseFrom(type, request.getBytes());
      return new Call(m.getName(), true, field(msg, "volume_id"), field(msg, "staging_target_path"),
          field(msg, "target_path"));
    } catch (InvalidProtocolBufferException e) {
      return new Call(m.getName(), true, null, null, null);
    }
  }

  private static String field(DynamicMessage msg, String name) {
    FieldDescriptor f = msg.getDescriptorForType().findFieldByName(name);
    if (f == null || f.getJavaType() != FieldDescriptor.JavaType.STRING || f.isRepeated()) {
      return null;
    }
    String value = (String) msg.getField(f);
    return value.isEmpty() ? null : value;
  }
}
