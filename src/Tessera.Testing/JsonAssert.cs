using System.Text.Json;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// Compares session values as JSON, not as text: a store may keep a value in a form that normalizes it (PostgreSQL's
/// <c>jsonb</c> drops insignificant whitespace and reorders object members), and that is still the same value.
/// </summary>
public static class JsonAssert
{
    /// <summary>Asserts that two JSON texts denote the same JSON value (member order and whitespace aside).</summary>
    /// <param name="expected">The expected JSON text.</param>
    /// <param name="actual">The actual JSON text; <see langword="null"/> fails.</param>
    public static void Equal(string expected, string? actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        Assert.NotNull(actual);
        using var left = JsonDocument.Parse(expected);
        using var right = JsonDocument.Parse(actual);
        Assert.True(
            JsonElement.DeepEquals(left.RootElement, right.RootElement),
            $"JSON values differ: expected {expected}, got {actual}");
    }
}
