package dev.csinode.simulator.driver.memory;

/** A volume of the in-memory driver: what CreateVolume made, or an inline volume a publish made. */
public record MemoryVolume(String id, String name, long capacityBytes, boolean block, boolean ephemeral) {}
