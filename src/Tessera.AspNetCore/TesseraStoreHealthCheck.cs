using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera;
using Tessera.AspNetCore;

namespace Tessera.AspNetCore
{
    /// <summary>
    /// Checks that the configured session store answers: one <see cref="ISessionStore.LoadAsync"/> of a random id that
    /// cannot exist (an indexed point read on every store; cheaper than counting, which scans on some stores), within a
    /// timeout. Healthy when the store answers (with nothing found), else the registration's failure status.
    /// </summary>
    /// <remarks>
    /// The description names only the store's type and, on failure, the exception's type or the timeout: never an
    /// exception message, which for a database driver may name hosts, users or connection settings. The exception itself
    /// is logged (event id 2101), not attached to the result, because health responses are often served to anonymous
    /// callers. The probe does not count in <c>tessera.store.operation.duration</c>.
    /// </remarks>
    public sealed class TesseraStoreHealthCheck : IHealthCheck
    {
        private readonly ISessionStore _store;
        private readonly TimeSpan _timeout;
        private readonly ILogger _logger;

        /// <summary>Creates the check.</summary>
        /// <param name="store">The store to probe.</param>
        /// <param name="timeout">How long the probe may take; positive.</param>
        /// <param name="logger">Logs a failed probe with its exception; <see langword="null"/> logs nothing.</param>
        public TesseraStoreHealthCheck(ISessionStore store, TimeSpan timeout, ILogger<TesseraStoreHealthCheck>? logger = null)
        {
            ArgumentNullException.ThrowIfNull(store);
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
            _store = store;
            _timeout = timeout;
            _logger = (ILogger?)logger ?? NullLogger.Instance;
        }

        /// <summary>The probe's default timeout: 5 seconds.</summary>
        public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(5);

        /// <inheritdoc />
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(context);
            var storeName = _store.GetType().Name;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_timeout);
            try
            {
                // Some stores block or ignore the token; WaitAsync bounds the wait either way.
                await _store.LoadAsync("tessera-health-" + Guid.NewGuid().ToString("N"), timeout.Token).AsTask().WaitAsync(_timeout, cancellationToken).ConfigureAwait(false);
                return HealthCheckResult.Healthy($"The session store ({storeName}) answered.");
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                var timedOut = e is TimeoutException || (e is OperationCanceledException && timeout.IsCancellationRequested);
                HealthLog.StoreUnhealthy(_logger, storeName, e);
                var why = timedOut
                    ? $"did not answer within {_timeout.TotalSeconds:0.###} s"
                    : $"failed ({e.GetType().Name})";
                return new HealthCheckResult(context.Registration.FailureStatus, $"The session store ({storeName}) {why}.");
            }
        }
    }

    internal static partial class HealthLog
    {
        [LoggerMessage(2101, LogLevel.Warning, "The session store ({Store}) failed its health probe.")]
        public static partial void StoreUnhealthy(ILogger logger, string store, Exception exception);
    }
}

namespace Microsoft.Extensions.DependencyInjection
{
    /// <summary>Registers Tessera's health check.</summary>
    public static class TesseraHealthChecksBuilderExtensions
    {
        /// <summary>The default registration name: <c>tessera-store</c>.</summary>
        public const string DefaultName = "tessera-store";

        /// <summary>
        /// Adds <see cref="TesseraStoreHealthCheck"/> for the store registered as <see cref="ISessionStore"/>
        /// (<c>services.AddHealthChecks().AddTesseraStore()</c>).
        /// </summary>
        /// <param name="builder">The health checks builder.</param>
        /// <param name="name">The check's name. Default <see cref="DefaultName"/>.</param>
        /// <param name="failureStatus">What a failed probe reports. Default <see langword="null"/>: <see cref="HealthStatus.Unhealthy"/>.</param>
        /// <param name="tags">Tags to filter checks by (say, <c>ready</c>), or <see langword="null"/>.</param>
        /// <param name="timeout">How long the probe may take. Default <see langword="null"/>: <see cref="TesseraStoreHealthCheck.DefaultTimeout"/> (5 seconds).</param>
        /// <returns>The builder.</returns>
        public static IHealthChecksBuilder AddTesseraStore(
            this IHealthChecksBuilder builder,
            string name = DefaultName,
            HealthStatus? failureStatus = null,
            IEnumerable<string>? tags = null,
            TimeSpan? timeout = null)
        {
            ArgumentNullException.ThrowIfNull(builder);
            ArgumentException.ThrowIfNullOrEmpty(name);
            var probeTimeout = timeout ?? TesseraStoreHealthCheck.DefaultTimeout;
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(probeTimeout, TimeSpan.Zero, nameof(timeout));
            return builder.Add(new HealthCheckRegistration(
                name,
                sp => new TesseraStoreHealthCheck(
                    sp.GetRequiredService<ISessionStore>(),
                    probeTimeout,
                    sp.GetService<ILogger<TesseraStoreHealthCheck>>()),
                failureStatus,
                tags));
        }
    }
}
