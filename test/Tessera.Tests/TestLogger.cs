using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tessera.Tests;

/// <summary>One captured log line: its level, event, formatted text and exception.</summary>
internal sealed record LogEntry(LogLevel Level, EventId EventId, string Message, Exception? Exception)
{
    /// <summary>Everything a log sink could write for this entry: the message and the full exception text.</summary>
    public string FullText => Exception is null ? Message : Message + Environment.NewLine + Exception;
}

/// <summary>A logger that keeps every entry, so tests can assert what was (and was not) logged.</summary>
internal sealed class TestLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue(new LogEntry(logLevel, eventId, formatter(state, exception), exception));
}
