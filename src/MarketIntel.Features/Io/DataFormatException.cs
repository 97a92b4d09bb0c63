namespace MarketIntel.Features.Io;

/// <summary>Input data that cannot be used; the message names the file, line and column at fault.</summary>
public sealed class DataFormatException : FormatException
{
    public DataFormatException(string file, int line, int column, string message)
        : base(column > 0 ? $"{file}:{line}:{column}: {message}" : line > 0 ? $"{file}:{line}: {message}" : $"{file}: {message}")
    {
        File = file;
        Line = line;
        Column = column;
    }

    public DataFormatException()
        : this(string.Empty, 0, 0, "invalid data")
    {
    }

    public DataFormatException(string message)
        : this(string.Empty, 0, 0, message)
    {
    }

    public DataFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        File = string.Empty;
    }

    /// <summary>Reads a whole text file; a missing or unreadable file becomes a <see cref="DataFormatException"/> naming it.</summary>
    public static string ReadAllText(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            return System.IO.File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, 0, 0, e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.Message);
        }
    }

    /// <summary>The file at fault.</summary>
    public string File { get; }

    /// <summary>1-based line (the header is line 1); 0 when the whole file is at fault.</summary>
    public int Line { get; }

    /// <summary>1-based column; 0 when the whole line is at fault.</summary>
    public int Column { get; }
}
