package dev.streamlet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindowedKStream;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams peer: W1-W5 in the Streams DSL, one stream thread.
 *
 * <p>Configured only through BENCH_* environment variables (benchmarks/engines/spec.py), and
 * otherwise left at Kafka Streams' defaults (record cache on, as a Kafka Streams user gets it).
 * The per-record logic mirrors benchmarks/engines/logic.py.
 */
public final class StreamsBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int AMOUNT_MIN = 10;
  // W4: benchmarks/engines/spec.py's WINDOW_MS and GRACE_MS
  private static final Duration WINDOW = Duration.ofMillis(60_000);
  private static final Duration GRACE = Duration.ofMillis(5_000);
  private static final Duration W4_CLOSE_RETENTION = Duration.ofHours(1);

  private StreamsBench() {}

  public static void main(String[] args) throws InterruptedException {
    String workload = env("BENCH_WORKLOAD");
    boolean exactlyOnce = env("BENCH_GUARANTEE").equals("exactly_once");
    Marker marker = new Marker(Path.of(env("BENCH_MARKER_PATH")));

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, env("BENCH_APP_ID"));
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, env("BENCH_BOOTSTRAP"));
    props.put(
        StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
        exactlyOnce ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(
        StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(env("BENCH_COMMIT_INTERVAL_MS")));
    props.put(StreamsConfig.STATE_DIR_CONFIG, env("BENCH_STATE_DIR"));
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);

    Topology topology =
        build(
            workload,
            env("BENCH_INPUT_TOPIC"),
            env("BENCH_OUTPUT_TOPIC"),
            System.getenv().getOrDefault("BENCH_TABLE_TOPIC", ""),
            marker);
    KafkaStreams streams = new KafkaStreams(topology, props);
    CountDownLatch stopped = new CountDownLatch(1);
    AtomicInteger exitCode = new AtomicInteger(0);
    streams.setUncaughtExceptionHandler(
        error -> {
          System.err.println("kafka-streams: " + error);
          exitCode.set(1);
          stopped.countDown();
          return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    streams.setGlobalStateRestoreListener(new RestoreReport());
    Runtime.getRuntime().addShutdownHook(new Thread(() -> close(streams, stopped)));
    streams.start();
    stopped.await();
    close(streams, stopped);
    System.exit(exitCode.get());
  }

  static Topology build(
      String workload, String input, String output, String tableTopic, Marker marker) {
    StreamsBuilder builder = new StreamsBuilder();
    Serde<JsonNode> json = jsonSerde();
    KStream<String, JsonNode> records = builder.stream(input, Consumed.with(Serdes.String(), json));
    if (workload.equals("w5")) {
      // page views keyed by user, co-partitioned with the users table (benchmarks/data.py)
      KTable<String, JsonNode> users =
          builder.table(
              tableTopic, Consumed.with(Serdes.String(), json), Materialized.as("users"));
      records
          .peek((key, value) -> marker.mark())
          .join(users, (view, user) -> user.get("region").asText())
          .groupBy(
              (user, region) -> region, Grouped.with("by-region", Serdes.String(), Serdes.String()))
          .count(Materialized.as("counts"))
          .toStream()
          .to(output, Produced.with(Serdes.String(), Serdes.Long()));
      return builder.build();
    }
    if (workload.equals("w1")) {
      records
          .filter((key, value) -> marker.mark() && keep(value))
          .mapValues(StreamsBench::enrich)
          .to(output, Produced.with(Serdes.String(), json));
      return builder.build();
    }
    if (workload.equals("w4") || workload.equals("w4u")) {
      // w4: emit on window close; w4u: Kafka Streams' default, emit on update (record cache on)
      TimeWindowedKStream<String, JsonNode> perMinute =
          records
              .peek((key, value) -> marker.mark())
              .groupByKey()
              .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW, GRACE));
      Materialized<String, Long, WindowStore<Bytes, byte[]>> store = Materialized.as("counts");
      if (workload.equals("w4")) {
        perMinute = perMinute.emitStrategy(EmitStrategy.onWindowClose());
        // Emit on close looks for closed windows at most once a second of wall-clock time,
        // and the store drops a window's segment once stream time is past it by the
        // retention (default: size + grace). Replaying hours of event time, stream time moves
        // further than that between two looks, and windows were dropped before they came
        // out (731,782 of 752,077 in a first run). A retention of an hour keeps them.
        store = store.withRetention(W4_CLOSE_RETENTION);
      }
      perMinute
          .count(store)
          .toStream()
          .to(
              output,
              Produced.with(
                  WindowedSerdes.timeWindowedSerdeFrom(String.class, WINDOW.toMillis()),
                  Serdes.Long()));
      return builder.build();
    }
    KGroupedStream<String, JsonNode> grouped;
    if (workload.equals("w2")) {
      grouped = records.peek((key, value) -> marker.mark()).groupByKey();
    } else if (workload.equals("w3")) {
      grouped =
          records.groupBy(
              (key, value) -> marker.mark() ? regroup(value) : null,
              Grouped.with("by-user", Serdes.String(), json));
    } else {
      throw new IllegalArgumentException("unknown workload " + workload);
    }
    grouped
        .count(Materialized.as("counts"))
        .toStream()
        .to(output, Produced.with(Serdes.String(), Serdes.Long()));
    return builder.build();
  }

  static boolean keep(JsonNode value) {
    return value.get("amount").asInt() >= AMOUNT_MIN;
  }

  static JsonNode enrich(JsonNode value) {
    ObjectNode out = JSON.createObjectNode();
    out.set("n", value.get("n"));
    out.set("user", value.get("user"));
    out.put("cents", value.get("amount").asLong() * 100);
    return out;
  }

  static String regroup(JsonNode value) {
    return value.get("user").asText();
  }

  /** JSON values as Jackson trees: Kafka Streams' usual way to carry JSON. */
  static Serde<JsonNode> jsonSerde() {
    Serializer<JsonNode> serializer =
        (topic, value) -> {
          try {
            return JSON.writeValueAsBytes(value);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        };
    Deserializer<JsonNode> deserializer =
        (topic, bytes) -> {
          try {
            return JSON.readTree(bytes);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  private static synchronized void close(KafkaStreams streams, CountDownLatch stopped) {
    if (streams.state() != KafkaStreams.State.NOT_RUNNING) {
      // Leave the group so a restarted instance is assigned at once, not after session.timeout.ms.
      streams.close(
          CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
              .withTimeout(Duration.ofSeconds(30)));
    }
    stopped.countDown();
  }

  private static String env(String name) {
    String value = System.getenv(name);
    if (value == null) {
      throw new IllegalStateException("missing environment variable " + name);
    }
    return value;
  }

  /**
   * One parseable line per store partition restored (benchmarks/restore_report.py): wall-clock
   * ms at its start and end, and the records restored.
   */
  static final class RestoreReport implements StateRestoreListener {
    @Override
    public void onRestoreStart(
        TopicPartition partition, String store, long startingOffset, long endingOffset) {
      System.out.printf(
          "streams-restore start store=%s partition=%d at_ms=%d offsets=%d..%d%n",
          store, partition.partition(), System.currentTimeMillis(), startingOffset, endingOffset);
      System.out.flush();
    }

    @Override
    public void onBatchRestored(
        TopicPartition partition, String store, long batchEndOffset, long numRestored) {}

    @Override
    public void onRestoreEnd(TopicPartition partition, String store, long totalRestored) {
      System.out.printf(
          "streams-restore end store=%s partition=%d at_ms=%d records=%d%n",
          store, partition.partition(), System.currentTimeMillis(), totalRestored);
      System.out.flush();
    }
  }

  /** Writes the "first input consumed" time once, as benchmarks/engines/marker.py does. */
  static final class Marker {
    private final Path path;
    private volatile boolean done;

    Marker(Path path) {
      this.path = path;
    }

    /** Always true, so it can sit in front of a predicate. */
    boolean mark() {
      if (!done) {
        done = true;
        String now = Double.toString(System.currentTimeMillis() / 1000.0);
        try {
          Files.write(
              path,
              now.getBytes(StandardCharsets.UTF_8),
              StandardOpenOption.CREATE_NEW,
              StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
          // another instance was first
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      return true;
    }
  }
}
