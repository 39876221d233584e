package dev.csinode.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The module graph, checked over the compiled product classes (the cli module sees them all): each module imports
 * only the modules below it. Maven already refuses a cycle between modules; these rules also catch an import that
 * slips in through a dependency declared for another reason (a test scope, a transitive jar).
 */
class ModuleLayoutTest {
  private static final String PROTO = "dev.csinode.grpc..";
  private static final String[] PROTO_ALL = {"dev.csinode.grpc..", "dev.csinode.logging..", "dev.csinode.util..",
      "dev.csinode.csi..", "dev.csinode.pluginregistration.."};
  private static final String MOUNT = "dev.csinode.mount..";
  private static final String PLUGINS = "dev.csinode.plugins..";
  private static final String HOSTPATH = "dev.csinode.hostpath..";
  private static final String AGENT = "dev.csinode.agent..";
  private static final String SIMULATOR = "dev.csinode.simulator..";
  private static final String CLI = "dev.csinode.cli..";
  private static final String PICOCLI = "picocli..";

  private static JavaClasses product;

  @BeforeAll
  static void importProduct() {
    // The modules' jars (or target/classes in a reactor build), without test classes and the modules' test jars.
    product = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .withImportOption(location -> !location.contains("-tests.jar")).importPackages("dev.csinode");
  }

  /** The imported classes are a large graph; the tests after this class in the same JVM (one of them collects garbage in a loop) should not carry it. */
  @AfterAll
  static void release() {
    product = null;
  }

  private static void check(ArchRule rule) {
    rule.check(product);
  }

  @Test
  void protoImportsNoOtherModule() {
    check(noClasses().that().resideInAnyPackage(PROTO_ALL).should().dependOnClassesThat()
        .resideInAnyPackage(MOUNT, PLUGINS, HOSTPATH, AGENT, SIMULATOR, CLI).as("proto imports no other module"));
  }

  @Test
  void mountUtilsKnowsNoCsi() {
    check(noClasses().that().resideInAPackage(MOUNT).should().dependOnClassesThat()
        .resideInAnyPackage(PROTO_ALL).orShould().dependOnClassesThat()
        .resideInAnyPackage(PLUGINS, HOSTPATH, AGENT, SIMULATOR, CLI).as("mount-utils imports no CSI and no other module"));
  }

  @Test
  void pluginsRegistryIsALibraryOverProto() {
    check(noClasses().that().resideInAPackage(PLUGINS).should().dependOnClassesThat()
        .resideInAnyPackage(MOUNT, HOSTPATH, AGENT, SIMULATOR, CLI, PICOCLI)
        .as("plugins-registry imports only proto, and no command-line library"));
  }

  @Test
  void theDriverIsALibraryBelowTheAgent() {
    check(noClasses().that().resideInAPackage(HOSTPATH).should().dependOnClassesThat()
        .resideInAnyPackage(AGENT, SIMULATOR, CLI, PICOCLI)
        .as("hostpath-driver imports no agent, simulator or command line"));
  }

  @Test
  void theAgentKnowsNoParticularDriver() {
    check(noClasses().that().resideInAPackage(AGENT).should().dependOnClassesThat()
        .resideInAnyPackage(HOSTPATH, SIMULATOR, CLI, PICOCLI)
        .as("agent imports no bundled driver, simulator or command line"));
  }

  @Test
  void onlyTheCliKnowsTheCli() {
    check(noClasses().that().resideOutsideOfPackage(CLI).should().dependOnClassesThat().resideInAPackage(CLI)
        .as("nothing but the cli module imports dev.csinode.cli"));
  }
}
