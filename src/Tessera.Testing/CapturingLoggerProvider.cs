using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tessera.Testing;

/// <summary>
/// A logger provider that keeps every log entry in memory, so tests can assert what was (and was not) logged. Kept for
/// one release: use <see cref="Microsoft.Extensions.Logging.Testing.FakeLoggerProvider"/> with a
/// <see cref="Microsoft.Extensions.Logging.Testing.FakeLogCollector"/> (Microsoft.Extensions.Diagnostics.Testing) instead,
/// and <see cref="LogText.AllText"/> for the joined text.
/// </summary>
[Obsolete("Use FakeLoggerProvider and FakeLogCollector from Microsoft.Extensions.Diagnostics.Testing (LogText.AllText for the joined text); CapturingLoggerProvider will be removed in the next release.")]
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLogEntry> _entries = new();

    /// <summary>Every entry so far, oldest first.</summary>
    public IReadOnlyList<CapturedLogEntry> Entries => [.. _entries];

    /// <summary>Every entry's message and exception text joined, for "was this secret ever logged" checks.</summary>
    public string AllText => string.Join('\n', _entries.Select(e => e.Message + " " + e.Exception));

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, _entries);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<CapturedLogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new CapturedLogEntry(category, logLevel, eventId, formatter(state, exception), exception?.ToString()));
    }
}

/// <summary>One captured log entry. Kept for one release, with <see cref="CapturingLoggerProvider"/>.</summary>
/// <param name="Category">The logger category.</param>
/// <param name="Level">The level.</param>
/// <param name="EventId">The event id.</param>
/// <param name="Message">The formatted message.</param>
/// <param name="Exception">The exception's text, or <see langword="null"/>.</param>
[Obsolete("Use FakeLogRecord from Microsoft.Extensions.Diagnostics.Testing; CapturedLogEntry will be removed in the next release.")]
public sealed record CapturedLogEntry(string Category, LogLevel Level, EventId EventId, string Message, string? Exception);
