using Microsoft.Extensions.Logging.Testing;

namespace Tessera.Testing;

/// <summary>What a <see cref="FakeLogCollector"/> (Microsoft.Extensions.Diagnostics.Testing) holds, as one text to search.</summary>
public static class LogText
{
    /// <summary>
    /// Every collected record's message and exception text joined, for "was this secret ever logged" checks. Empty when
    /// nothing was logged.
    /// </summary>
    /// <param name="logs">The collector.</param>
    /// <returns>The text.</returns>
    public static string AllText(this FakeLogCollector logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        return string.Join('\n', logs.GetSnapshot().Select(e => e.Message + " " + e.Exception));
    }
}
